// A deploy the server rejects shows each problem on the node it names and on
// the field in the settings panel, and changes nothing on the server.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { launch, newPage, nodeEl, openEditor, shot, startServer, until } from './helpers.mjs'

let browser, server
before(async () => {
  browser = await launch()
  server = await startServer()
})
after(async () => {
  await browser?.close()
  await server?.stop()
})

test('a template with an unclosed section is rejected: errors on the node and the field; GET /flows unchanged', async () => {
  const { page, errors } = await newPage(browser)
  const before = await server.flows()
  await openEditor(page, server.url)

  await nodeEl(page, 'render-alert').dblclick()
  const tray = page.getByTestId('tray')
  await tray.locator('#node-input-template').fill('Alert\n{{#a}} for {{topic}}')
  await tray.getByRole('button', { name: 'Done' }).click()
  // The node shows it is changed and not deployed.
  await nodeEl(page, 'render-alert').locator('.rn-changed').waitFor()
  await page.getByTestId('deploy').click()

  const notice = page.getByTestId('notice-error')
  await notice.waitFor()
  assert.match(await notice.textContent(), /^Deploy rejected: 1 problem/)
  assert.match(await notice.textContent(), /alert text render-alert template: line 2: unclosed section "a": \{\{#a\}\} is never closed/)
  const node = nodeEl(page, 'render-alert')
  assert.equal(await node.locator('.rn-node').evaluate((el) => el.classList.contains('invalid')), true)
  assert.equal(await node.getByTestId('node-problem').textContent(), 'template: line 2: unclosed section "a": {{#a}} is never closed')
  // Other nodes are not marked.
  assert.equal(await page.locator('.rn-node.invalid').count(), 1)
  await shot(page, '10-rejected-deploy')

  // Nothing changed on the server.
  assert.deepEqual(await server.flows(), before)

  // The settings panel shows the error on the template field, and marks the template's line 2.
  await node.dblclick()
  const row = tray.locator('.rn-row[data-field="template"]')
  assert.equal(await row.locator('.rn-field-error').textContent(), 'line 2: unclosed section "a": {{#a}} is never closed')
  assert.equal(await row.locator('.rn-code-gutter .err').textContent(), '2')
  assert.equal(await row.locator('.rn-code.invalid').count(), 1)
  await shot(page, '11-rejected-field')

  // Fix it: the mark goes, the deploy passes.
  await tray.locator('#node-input-template').fill('Alert {{#a}}x{{/a}} for {{topic}}')
  await tray.getByRole('button', { name: 'Done' }).click()
  assert.equal(await page.locator('.rn-node.invalid').count(), 0)
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  await until(5000, 'the new template to run', async () => (await server.flows()).flows.find((o) => o.id === 'render-alert').template === 'Alert {{#a}}x{{/a}} for {{topic}}')
  assert.equal(await nodeEl(page, 'render-alert').locator('.rn-changed').count(), 0)
  assert.deepEqual(errors, [])
})

test('a stale revision gets a conflict dialog; merge keeps both sides', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  // Someone else deploys: the json node's name changes on the server.
  const cur = (await server.flows()).flows
  await server.deploy(cur.map((o) => (o.id === 'parse-json' ? { ...o, name: 'theirs' } : o)))
  // The editor was not dirty: it reloads by itself (deploy event over the websocket).
  await until(5000, 'the editor to reload', async () => (await nodeEl(page, 'parse-json').locator('.rn-label').textContent()) === 'theirs')
  // Now change the flow here while another deploy happens behind our back.
  await nodeEl(page, 'alerts-out').dblclick()
  await page.getByTestId('tray').locator('#node-input-name').fill('mine')
  await page.getByTestId('tray').getByRole('button', { name: 'Done' }).click()
  const now = (await server.flows()).flows
  await server.deploy(now.map((o) => (o.id === 'temp-changed' ? { ...o, name: 'theirs too' } : o)))
  // The notice of their deploy offers Merge, Reload and Dismiss; dismissed, the deploy meets the conflict.
  const remote = page.locator('.rn-notice[data-tag="remote-deploy"]')
  await remote.waitFor()
  await remote.getByTestId('remote-dismiss').click()
  await page.getByTestId('deploy').click()
  const dlg = page.getByRole('dialog', { name: 'Flows changed on the server' })
  await dlg.waitFor()
  await shot(page, '12-conflict')
  await dlg.getByTestId('conflict-merge').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  const merged = (await server.flows()).flows
  assert.equal(merged.find((o) => o.id === 'alerts-out').name, 'mine')
  assert.equal(merged.find((o) => o.id === 'temp-changed').name, 'theirs too')
  assert.equal(merged.find((o) => o.id === 'parse-json').name, 'theirs')
  assert.deepEqual(errors, [])
})

// A Node-RED export with nodes of types Runnel does not have (dashboard
// nodes): as in Node-RED the flows do not start while they are enabled, so
// the editor says so at once, naming the types and how many nodes, draws
// them with a dashed red border, and disables them in one click so that
// the rest deploys. They keep every property: exported again they are the
// objects imported plus d: true, and enabled again exactly those objects.
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

/** A Node-RED export: an inject wired to two dashboard gauges, and the dashboard's global config node. */
const exported = [
  { id: 'd0a1b2c3d4e5f601', type: 'tab', label: 'Dashboard', disabled: false, info: '', env: [] },
  { id: 'd0a1b2c3d4e5f602', type: 'inject', z: 'd0a1b2c3d4e5f601', name: 'tick', props: [{ p: 'payload' }], repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', payload: '', payloadType: 'date', x: 120, y: 80, wires: [['d0a1b2c3d4e5f603', 'd0a1b2c3d4e5f604']] },
  { id: 'd0a1b2c3d4e5f603', type: 'ui_gauge', z: 'd0a1b2c3d4e5f601', name: 'Temperature', group: 'g1', order: 1, width: 0, height: 0, gtype: 'gage', title: 'Temp', label: '°C', format: '{{value}}', min: 0, max: '50', colors: ['#00b500', '#e6e600', '#ca3838'], seg1: '', seg2: '', diff: false, className: '', x: 330, y: 60, wires: [] },
  { id: 'd0a1b2c3d4e5f604', type: 'ui_gauge', z: 'd0a1b2c3d4e5f601', name: 'Humidity', group: 'g1', order: 2, width: 0, height: 0, gtype: 'donut', title: 'Hum', label: '%', format: '{{value}}', min: 0, max: 100, colors: ['#00b500', '#e6e600', '#ca3838'], seg1: '', seg2: '', diff: false, className: '', x: 330, y: 120, wires: [] },
  { id: 'd0a1b2c3d4e5f605', type: 'ui_base', theme: { name: 'theme-light', lightTheme: { default: '#0094CE', edited: true } }, site: { name: 'Node-RED Dashboard', hideToolbar: 'false', dateFormat: 'DD/MM/YYYY', sizes: { sx: 48, sy: 48 } } },
]
const unknownIds = ['d0a1b2c3d4e5f603', 'd0a1b2c3d4e5f604', 'd0a1b2c3d4e5f605']

/** The whole document as a Node-RED export, read from the export dialog. */
async function exportAll(page) {
  await page.keyboard.press('Control+e')
  const dlg = page.getByRole('dialog', { name: 'Export nodes' })
  await dlg.locator('input[value="all"]').check()
  await dlg.locator('input[value="node-red"]').check()
  const objs = JSON.parse(await dlg.getByTestId('export-text').inputValue())
  await dlg.getByRole('button', { name: 'Cancel' }).click()
  return objs
}

test('unknown node types: the notice names them, one click disables them, the rest deploys; export unchanged plus d:true', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.keyboard.press('Control+i')
  const dlg = page.getByRole('dialog', { name: 'Import nodes' })
  await dlg.locator('#import-text').fill(JSON.stringify(exported))
  await dlg.getByTestId('import-confirm').click()
  await dlg.waitFor({ state: 'detached' })

  // The notice says the flows will not deploy, and why.
  const notice = page.getByTestId('unknown-types')
  await notice.waitFor()
  const text = await notice.textContent()
  assert.match(text, /^The flows will not deploy: 3 nodes are of types Runnel does not have:/)
  assert.deepEqual(await notice.locator('li').allTextContents(), ['ui_gauge (2 nodes)', 'ui_base (1 node)'])
  assert.match(text, /every deploy is refused, in every flow/)
  assert.equal(await notice.getByTestId('disable-unknown').textContent(), 'Disable these 3 nodes')
  assert.equal(await notice.getByTestId('disable-unknown-tabs').textContent(), 'Disable their flow')

  // On the canvas: a dashed red border, and "unknown" in the info sidebar.
  const gauge = nodeEl(page, 'd0a1b2c3d4e5f603').locator('.rn-node')
  assert.equal(await gauge.evaluate((el) => el.classList.contains('unknown')), true)
  assert.equal(await gauge.locator('.rn-body').evaluate((el) => getComputedStyle(el).borderTopStyle), 'dashed')
  assert.equal(await nodeEl(page, 'd0a1b2c3d4e5f602').locator('.rn-node.unknown').count(), 0)
  await page.locator('[data-sidebar="info"]').click()
  await nodeEl(page, 'd0a1b2c3d4e5f603').click()
  assert.equal(await page.getByTestId('info').locator('.rn-unknown-tag').textContent(), 'unknown')
  // And, checked as a deploy would be, each is marked as a problem before any deploy.
  await until(5000, 'the unknown nodes to be marked', async () => (await page.getByTestId('error-mark').count()) === 2)
  assert.match(await nodeEl(page, 'd0a1b2c3d4e5f603').getByTestId('error-mark').getAttribute('title'), /^type: unknown node type "ui_gauge"$/)
  await shot(page, '70-unknown-types')

  // A deploy is refused as the notice says.
  await page.getByTestId('deploy').click()
  const rejected = page.getByTestId('notice-error').filter({ hasText: 'Deploy rejected' })
  await rejected.waitFor()
  assert.match(await rejected.textContent(), /^Deploy rejected: 3 problems/)

  // One click: the three are disabled, the notice goes, and everything else deploys.
  await notice.getByTestId('disable-unknown').click()
  await notice.waitFor({ state: 'detached' })
  assert.equal(await gauge.evaluate((el) => el.classList.contains('disabled')), true)
  await until(5000, 'the marks to go', async () => (await page.getByTestId('error-mark').count()) === 0)
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  // The rejected deploy's notice is gone with the deploy that passed.
  assert.equal(await rejected.count(), 0)
  const running = (await server.flows()).flows
  assert.equal(running.find((o) => o.id === 'd0a1b2c3d4e5f602').type, 'inject')
  for (const id of unknownIds) assert.equal(running.find((o) => o.id === id).d, true)
  await shot(page, '71-unknown-disabled-deployed')

  // Exported: the objects imported, with d: true on the three.
  const byId = new Map((await exportAll(page)).map((o) => [o.id, o]))
  for (const o of exported) assert.deepEqual(byId.get(o.id), unknownIds.includes(o.id) ? { ...o, d: true } : o)

  // Enabled again (the tray's Enabled box, config node too): exactly the objects imported.
  for (const id of unknownIds) {
    if (id === 'd0a1b2c3d4e5f605') {
      await page.locator('[data-sidebar="config"]').click()
      await page.locator(`.rn-config-node[data-id="${id}"]`).click()
    } else await nodeEl(page, id).dblclick()
    const tray = page.getByTestId('tray')
    await tray.locator('#node-input-enabled, #node-config-input-enabled').check()
    await tray.getByRole('button', { name: 'Done' }).click()
    await tray.waitFor({ state: 'detached' })
  }
  await notice.waitFor()
  const again = new Map((await exportAll(page)).map((o) => [o.id, o]))
  for (const o of exported) assert.deepEqual(again.get(o.id), o)
  assert.deepEqual(errors, [])
})

test('the notice can be closed until the nodes change; disable their flow: the tab and the unknown global config node are disabled, the rest deploys', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  // The server runs the document of the first test; import the export again over it, enabled.
  const cur = (await server.flows()).flows.filter((o) => !exported.some((e) => e.id === o.id))
  await page.keyboard.press('Control+i')
  const dlg = page.getByRole('dialog', { name: 'Import nodes' })
  await dlg.locator('#import-text').fill(JSON.stringify(exported))
  const clash = dlg.getByTestId('import-clash')
  if (await clash.count()) await dlg.locator('input[name="mode"][value="replace"]').check()
  await dlg.getByTestId('import-confirm').click()
  const notice = page.getByTestId('unknown-types')
  await notice.waitFor()
  // Closed, the notice stays away until the set of such nodes changes.
  await notice.getByRole('button', { name: 'Close' }).click()
  await notice.waitFor({ state: 'detached' })
  await nodeEl(page, 'd0a1b2c3d4e5f604').click()
  await page.keyboard.press('Delete')
  await notice.waitFor()
  assert.deepEqual(await notice.locator('li').allTextContents(), ['ui_gauge (1 node)', 'ui_base (1 node)'])
  await notice.getByTestId('disable-unknown-tabs').click()
  await notice.waitFor({ state: 'detached' })
  assert.equal(await page.locator('.rn-tab[data-tab="d0a1b2c3d4e5f601"]').evaluate((el) => el.classList.contains('disabled')), true)
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  const running = (await server.flows()).flows
  assert.equal(running.find((o) => o.id === 'd0a1b2c3d4e5f601').disabled, true)
  assert.equal(running.find((o) => o.id === 'd0a1b2c3d4e5f605').d, true)
  assert.equal(running.find((o) => o.id === 'd0a1b2c3d4e5f603').d, undefined)
  for (const o of cur) assert.ok(running.some((r) => r.id === o.id), `${o.id} still there`)
  assert.deepEqual(errors, [])
})

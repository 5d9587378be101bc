// Problems show before any deploy, all at once: the tray checks a node as
// the user types (an empty required topic, a topic filter with # inside, a
// template that does not parse), the canvas marks every node with a
// problem with Node-RED's red triangle after each edit (the whole document
// checked as a deploy would, POST /flows/validate), a deploy reports every
// problem of the document in one answer, and its notice goes once a later
// deploy passes. The forms show labels, not codes.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { dragFromPalette, launch, newPage, nodeEl, openEditor, shot, startServer, until } from './helpers.mjs'

let browser, server
before(async () => {
  browser = await launch()
  server = await startServer()
})
after(async () => {
  await browser?.close()
  await server?.stop()
})

const flow = [
  { id: 'qt', type: 'tab', label: 'Checks' },
  { id: 'qtpl', type: 'template', z: 'qt', name: 'render', field: 'payload', fieldType: 'msg', template: 'Hi {{payload}}', syntax: 'mustache', output: 'str', x: 420, y: 120, wires: [[]] },
  { id: 'qin', type: 'mqtt in', z: 'qt', name: 'readings', topic: 'sensors/+/temp', qos: '1', datatype: 'auto-detect', x: 200, y: 120, wires: [['qtpl']] },
]

/** The ids of the nodes on the canvas. */
const ids = (page) => page.locator('.react-flow__node[data-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))

test('the tray checks as the user types, the canvas marks problems before deploy, a deploy reports them all at once', async () => {
  const { rev } = await server.deploy(flow)
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('.rn-tab[data-tab="qt"]').click()
  assert.equal(await page.getByTestId('error-mark').count(), 0)

  // A new mqtt in has no topic: marked at once, with the problem in its tooltip.
  const had = new Set(await ids(page))
  await dragFromPalette(page, 'mqtt-in', 520, 420)
  const [nid] = (await ids(page)).filter((x) => !had.has(x))
  assert.ok(nid, 'a new mqtt in node')
  const mark = nodeEl(page, nid).getByTestId('error-mark')
  await mark.waitFor()
  assert.equal(await mark.getAttribute('title'), 'topic: required')
  assert.equal(await page.locator('.rn-tab[data-tab="qt"]').evaluate((el) => el.classList.contains('invalid')), true)

  // In the tray, each problem shows under the field as the user types.
  await nodeEl(page, nid).dblclick()
  const tray = page.getByTestId('tray')
  const topic = tray.locator('#node-input-topic')
  const err = tray.locator('.rn-row[data-field="topic"] .rn-field-error')
  await topic.fill('a/#/b')
  await until(5000, 'the # problem', async () => /invalid topic filter "a\/#\/b": '#' must be the last level/.test((await err.textContent({ timeout: 100 })) ?? ''))
  await shot(page, '80-tray-topic-filter')
  await topic.fill('')
  await until(5000, 'the required problem', async () => (await err.textContent({ timeout: 100 })) === 'required')
  await topic.fill('a/#/b')
  await until(5000, 'the # problem again', async () => /'#' must be the last level/.test((await err.textContent({ timeout: 100 })) ?? ''))
  // Done with the problem in place: the node keeps its mark, now for #.
  await tray.getByRole('button', { name: 'Done' }).click()
  await until(5000, 'the mark to name #', async () => /^topic: invalid topic filter "a\/#\/b"/.test((await mark.getAttribute('title', { timeout: 100 })) ?? ''))

  // A broken template, left with Done: marked on the canvas, nothing deployed.
  await nodeEl(page, 'qtpl').dblclick()
  await tray.locator('#node-input-template').fill('Hi {{#payload}}')
  await until(5000, 'the template problem in the tray', async () => /unclosed section/.test((await tray.locator('.rn-row[data-field="template"] .rn-field-error').textContent({ timeout: 100 })) ?? ''))
  await tray.getByRole('button', { name: 'Done' }).click()
  const tmark = nodeEl(page, 'qtpl').getByTestId('error-mark')
  await tmark.waitFor()
  assert.match(await tmark.getAttribute('title'), /^template: line 1: unclosed section "payload"/)
  // And a second mqtt in whose topic is emptied: three nodes marked, none deployed.
  await nodeEl(page, 'qin').dblclick()
  await tray.locator('#node-input-topic').fill('')
  await tray.getByRole('button', { name: 'Done' }).click()
  await until(5000, 'three marks', async () => (await page.getByTestId('error-mark').count()) === 3)
  assert.equal(await page.locator('.rn-node.invalid').count(), 3)
  assert.equal((await server.flows()).rev, rev)
  assert.equal(await page.getByTestId('notice-error').count(), 0)
  await shot(page, '81-canvas-marks')

  // A deploy reports every problem at once.
  await page.getByTestId('deploy').click()
  const rejected = page.getByTestId('notice-error').filter({ hasText: 'Deploy rejected' })
  await rejected.waitFor()
  assert.match(await rejected.textContent(), /^Deploy rejected: 3 problems/)
  const items = await rejected.locator('li').allTextContents()
  assert.equal(items.length, 3)
  assert.ok(items.some((t) => /^readings qin topic: required$/.test(t)), items.join('\n'))
  assert.ok(items.some((t) => new RegExp(`${nid} topic: invalid topic filter`).test(t)), items.join('\n'))
  assert.ok(items.some((t) => /^render qtpl template: line 1: unclosed section/.test(t)), items.join('\n'))
  await shot(page, '82-deploy-every-problem')
  assert.equal((await server.flows()).rev, rev)

  // Fix them; the marks go as each is fixed, and the deploy passes and takes the rejection's notice with it.
  await nodeEl(page, 'qtpl').dblclick()
  await tray.locator('#node-input-template').fill('Hi {{#payload}}x{{/payload}}')
  await tray.getByRole('button', { name: 'Done' }).click()
  await nodeEl(page, 'qin').dblclick()
  await tray.locator('#node-input-topic').fill('sensors/+/temp')
  await tray.getByRole('button', { name: 'Done' }).click()
  await nodeEl(page, nid).dblclick()
  await tray.locator('#node-input-topic').fill('a/b/#')
  await tray.getByRole('button', { name: 'Done' }).click()
  await until(5000, 'no marks', async () => (await page.getByTestId('error-mark').count()) === 0)
  assert.equal(await page.locator('.rn-tab[data-tab="qt"]').evaluate((el) => el.classList.contains('invalid')), false)
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  assert.equal(await rejected.count(), 0)
  assert.equal((await server.flows()).flows.find((o) => o.id === nid).topic, 'a/b/#')
  assert.deepEqual(errors, [])
})

test('forms show labels, not codes, and offer only what deploys', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  const tray = page.getByTestId('tray')
  const open = async (type) => {
    const had = new Set(await ids(page))
    await dragFromPalette(page, type, 560, 560)
    const [id] = (await ids(page)).filter((x) => !had.has(x))
    await nodeEl(page, id).dblclick()
    await tray.waitFor()
  }
  const options = (sel) => tray.locator(sel).locator('option').allTextContents()

  // debug: what it shows is a choice, the third with a text box for the property.
  await open('debug')
  assert.deepEqual(await options('#node-input-complete'), ['msg.payload', 'complete msg object', 'other msg property'])
  await tray.locator('#node-input-complete').selectOption({ label: 'other msg property' })
  await tray.locator('#node-input-complete-other').fill('payload.temperature')
  await tray.getByRole('button', { name: 'Cancel' }).click()

  // trigger: its own types are words, and "nothing" has no text box.
  await open('trigger')
  assert.deepEqual(await options('#node-input-op2-type'), [
    'string', 'number', 'boolean', 'JSON', 'buffer', 'timestamp', 'env variable', 'flow.', 'global.',
    'the original msg object', 'the latest msg object', 'nothing',
  ])
  await tray.locator('#node-input-op2-type').selectOption({ label: 'nothing' })
  assert.equal(await tray.locator('#node-input-op2').count(), 0)
  await shot(page, '83-trigger-nothing')
  await tray.getByRole('button', { name: 'Cancel' }).click()

  // filter: the modes in words; template: only the outputs it has.
  await open('filter-on-change')
  assert.deepEqual(await options('#node-input-func'), [
    'block unless value changes', 'block unless value changes (ignore initial value)', 'block unless value change is greater than',
    'block unless value change is greater or equal to', 'block if value change is greater than', 'block if value change is greater or equal to',
  ])
  await tray.getByRole('button', { name: 'Cancel' }).click()
  await open('template')
  assert.deepEqual(await options('#node-input-output'), ['Plain text', 'Parsed JSON'])
  await tray.getByRole('button', { name: 'Cancel' }).click()

  // csv: a label with a comma is one choice, not two.
  await open('csv')
  assert.deepEqual(await options('#node-input-hdrout'), ['Never send column headers', 'Always send column headers', 'Send headers once, until msg.reset'])
  await tray.getByRole('button', { name: 'Cancel' }).click()
  assert.deepEqual(errors, [])
})

test('a config node with a problem is marked in the config nodes sidebar, and the nodes that use it on the canvas', async () => {
  await server.deploy([
    { id: 'ct', type: 'tab', label: 'Config' },
    { id: 'cb', type: 'mqtt-broker', name: 'local', broker: '127.0.0.1', port: String(server.mqttPort) },
    { id: 'ci', type: 'mqtt in', z: 'ct', name: 'uses local', topic: 'x/#', broker: 'cb', x: 200, y: 100, wires: [[]] },
  ])
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('[data-sidebar="config"]').click()
  const cfg = page.locator('.rn-config-node[data-id="cb"]')
  await cfg.click()
  const tray = page.getByTestId('tray')
  await tray.locator('#node-config-input-port').fill('abc')
  await until(5000, 'the port problem in the tray', async () => /invalid port "abc"/.test((await tray.locator('.rn-row[data-field="port"] .rn-field-error').textContent({ timeout: 100 })) ?? ''))
  await tray.getByRole('button', { name: 'Done' }).click()
  await until(5000, 'the config node to be marked', async () => await cfg.evaluate((el) => el.classList.contains('invalid')))
  assert.equal(await cfg.getAttribute('title'), 'port: invalid port "abc"')
  const mark = nodeEl(page, 'ci').getByTestId('error-mark')
  await mark.waitFor()
  assert.match(await mark.getAttribute('title'), /^broker: /)
  await shot(page, '84-config-node-problem')
  assert.deepEqual(errors, [])
})

// The user's main path: draw the seed pipeline from the palette, wire it, fill
// its settings through the forms, deploy, publish with mosquitto_pub, and see
// the alerts at mosquitto_sub and in the debug sidebar; live rates, status
// and the inject button.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import {
  dragFromPalette, launch, newPage, nodeEl, openEditor, publish, shot, startServer, subscribe, until, wire,
} from './helpers.mjs'

let browser, server
before(async () => {
  browser = await launch()
  server = await startServer()
})
after(async () => {
  await browser?.close()
  await server?.stop()
})

/** The id of the only node of a type on the current tab. */
async function idOf(page, type) {
  const els = page.locator(`.rn-node[data-type="${type}"]`)
  assert.equal(await els.count(), 1, `one ${type} node on the canvas`)
  return els.getAttribute('data-id')
}

async function edit(page, id, fill) {
  await nodeEl(page, id).dblclick()
  const tray = page.locator('[data-testid="tray"]')
  await tray.waitFor()
  assert.equal(await tray.getAttribute('data-node'), id)
  await fill(tray)
  await tray.getByRole('button', { name: 'Done' }).click()
  await tray.waitFor({ state: 'detached' })
}

async function deployAndWait(page) {
  const before = (await server.flows()).rev
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  await until(5000, 'the rev to change', async () => (await server.flows()).rev !== before)
  // The button shows there is nothing left to deploy.
  assert.equal(await page.getByTestId('deploy').isDisabled(), true)
}

test('draw, configure and deploy the seed flow; alerts at mosquitto_sub and in the debug sidebar', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('.rn-palette-node').first().waitFor()

  // An empty tab: add one, then remove the example flow's tab (it would also send alerts).
  await page.getByRole('button', { name: 'Add flow' }).click()
  assert.equal(await page.locator('.rn-tab').count(), 2)
  await page.locator('.rn-tab', { hasText: 'Sensor alerts' }).dblclick()
  await page.getByRole('dialog', { name: 'Edit flow' }).getByRole('button', { name: 'Delete' }).click()
  assert.deepEqual(await page.locator('.rn-tab').allTextContents(), ['Flow 1'])
  assert.equal(await page.locator('.react-flow__node').count(), 0)

  // Drag the nodes from the palette.
  await dragFromPalette(page, 'mqtt-in', 280, 200)
  await dragFromPalette(page, 'json', 460, 200)
  await dragFromPalette(page, 'filter-on-change', 640, 200)
  await dragFromPalette(page, 'template', 300, 340)
  await dragFromPalette(page, 'mqtt-out', 520, 340)
  await dragFromPalette(page, 'debug', 520, 460)
  assert.equal(await page.locator('.react-flow__node').count(), 6)
  const ids = {}
  for (const t of ['mqtt-in', 'json', 'filter-on-change', 'template', 'mqtt-out', 'debug']) ids[t] = await idOf(page, t)

  // Wire them: mqtt in → json → filter → template → mqtt out, and template → debug.
  await wire(page, ids['mqtt-in'], ids.json)
  await wire(page, ids.json, ids['filter-on-change'])
  await wire(page, ids['filter-on-change'], ids.template)
  await wire(page, ids.template, ids['mqtt-out'])
  await wire(page, ids.template, ids.debug)
  assert.equal(await page.locator('.react-flow__edge').count(), 5)
  await shot(page, '01-seed-drawn')

  // Settings through the forms.
  await edit(page, ids['mqtt-in'], async (tray) => {
    await tray.locator('#node-input-topic').fill('sensors/+/data')
    await shot(page, '02-settings-mqtt-in')
  })
  await edit(page, ids.json, async (tray) => {
    await tray.locator('#node-input-action').selectOption('obj')
  })
  await edit(page, ids['filter-on-change'], async (tray) => {
    await tray.locator('#node-input-property').fill('payload.temperature')
    await tray.locator('#node-input-septopics').check()
  })
  await edit(page, ids.template, async (tray) => {
    await tray.locator('#node-input-template').fill('{{topic}}: {{payload.temperature}}')
    await shot(page, '03-settings-template')
  })
  await edit(page, ids['mqtt-out'], async (tray) => {
    await tray.locator('#node-input-topic').fill('alerts/temperature')
  })
  // The labels follow the settings, as in Node-RED.
  assert.equal(await nodeEl(page, ids['mqtt-in']).locator('.rn-label').textContent(), 'sensors/+/data')
  assert.equal(await nodeEl(page, ids['mqtt-out']).locator('.rn-label').textContent(), 'alerts/temperature')

  await deployAndWait(page)
  const deployed = (await server.flows()).flows
  const byId = new Map(deployed.map((o) => [o.id, o]))
  assert.equal(byId.get(ids['mqtt-in']).topic, 'sensors/+/data')
  assert.equal(byId.get(ids.json).action, 'obj')
  assert.equal(byId.get(ids['filter-on-change']).property, 'payload.temperature')
  assert.equal(byId.get(ids['filter-on-change']).septopics, true)
  assert.equal(byId.get(ids.template).template, '{{topic}}: {{payload.temperature}}')
  assert.equal(byId.get(ids['mqtt-out']).topic, 'alerts/temperature')
  assert.deepEqual(byId.get(ids.template).wires, [[ids['mqtt-out'], ids.debug]])
  assert.equal(deployed.filter((o) => o.type !== 'tab').length, 6)

  // MQTT: the README's walkthrough.
  await page.locator('[data-sidebar="debug"]').click()
  const sub = await subscribe(server.mqttPort, 'alerts/#')
  try {
    await publish(server.mqttPort, 'sensors/dev1/data', '{"temperature":21.5,"humidity":40}')
    await publish(server.mqttPort, 'sensors/dev1/data', '{"temperature":21.5,"humidity":41}')
    await publish(server.mqttPort, 'sensors/dev2/data', '{"temperature":21.5,"humidity":41}')
    await publish(server.mqttPort, 'sensors/dev1/data', '{"temperature":22.0,"humidity":41}')
    const want = [
      'alerts/temperature sensors&#x2F;dev1&#x2F;data: 21.5',
      'alerts/temperature sensors&#x2F;dev2&#x2F;data: 21.5',
      'alerts/temperature sensors&#x2F;dev1&#x2F;data: 22',
    ]
    await sub.waitFor(3)
    await page.waitForTimeout(500) // nothing more may come
    assert.deepEqual(sub.lines, want)
  } finally {
    sub.stop()
  }

  // The debug sidebar shows the same three messages.
  const values = page.getByTestId('debug-value')
  await until(5000, 'three debug messages', async () => (await values.count()) === 3)
  assert.deepEqual(await values.allTextContents(), [
    '"sensors&#x2F;dev1&#x2F;data: 21.5"',
    '"sensors&#x2F;dev2&#x2F;data: 21.5"',
    '"sensors&#x2F;dev1&#x2F;data: 22"',
  ])
  assert.equal(await page.getByTestId('debug-total').textContent(), '3 messages')
  const meta = await page.getByTestId('debug-msg').first().locator('.rn-debug-meta').nth(1).textContent()
  assert.equal(meta, 'sensors/dev1/data : msg.payload : string[33]')

  // Live rates: totals since deploy on each node (the tooltip), the rate line on the canvas.
  const totals = async (id) => nodeEl(page, id).getByTestId('rates').getAttribute('title')
  await until(5000, 'rates on the nodes', async () => (await totals(ids.template)) === 'in 3 · out 3 · errors 0 since deploy')
  assert.equal(await totals(ids['mqtt-in']), 'in 0 · out 4 · errors 0 since deploy')
  assert.equal(await totals(ids.json), 'in 4 · out 4 · errors 0 since deploy')
  assert.equal(await totals(ids['filter-on-change']), 'in 4 · out 3 · errors 0 since deploy')
  assert.match(await nodeEl(page, ids['filter-on-change']).getByTestId('rates').textContent(), /^in [\d.]+\/sout [\d.]+\/s$/)
  await shot(page, '04-seed-deployed-debug')

  // Status under mqtt in (it subscribes to the embedded broker).
  const status = await nodeEl(page, ids['mqtt-in']).getByTestId('status')
  await status.waitFor()
  assert.ok((await status.textContent()).length > 0)

  // Filter the debug list by node, pause and clear.
  await page.getByTestId('debug-filter').selectOption('flow')
  assert.equal(await values.count(), 3)
  await page.getByRole('button', { name: 'pause' }).click()
  await publish(server.mqttPort, 'sensors/dev3/data', '{"temperature":1}')
  await until(5000, 'the paused count', async () => /1 not shown/.test(await page.getByTestId('debug-counts').textContent()))
  assert.equal(await values.count(), 3)
  await page.getByRole('button', { name: 'resume' }).click()
  await page.getByRole('button', { name: 'Clear messages' }).click()
  assert.equal(await values.count(), 0)
  assert.equal(await page.getByTestId('debug-total').textContent(), '0 messages')
  assert.deepEqual(errors, [])
})

test('inject button fires the node; its message reaches the debug sidebar', async () => {
  const { page, errors } = await newPage(browser)
  await server.deploy([
    { id: 'tab1', type: 'tab', label: 'Inject', disabled: false, info: '' },
    { id: 'inj', type: 'inject', z: 'tab1', name: 'say hello', props: [{ p: 'payload' }, { p: 'topic', vt: 'str' }], payload: 'hello', payloadType: 'str', topic: 'greeting', repeat: '', once: false, onceDelay: 0.1, x: 160, y: 120, wires: [['dbg']] },
    { id: 'dbg', type: 'debug', z: 'tab1', name: 'out', active: true, tosidebar: true, console: false, tostatus: true, complete: 'false', x: 380, y: 120, wires: [] },
  ])
  await openEditor(page, server.url)
  await page.locator('[data-sidebar="debug"]').click()
  await nodeEl(page, 'inj').locator('button.rn-inject').click()
  const values = page.getByTestId('debug-value')
  await until(5000, 'the injected message', async () => (await values.count()) === 1)
  assert.equal(await values.first().textContent(), '"hello"')
  assert.equal(await page.getByTestId('debug-msg').first().locator('.rn-debug-node').textContent(), 'node: out')
  await page.getByTestId('notice-success').filter({ hasText: 'Injected: say hello' }).waitFor()
  // The debug node's status (tostatus) shows the payload under it.
  await until(5000, 'the debug status', async () => (await nodeEl(page, 'dbg').getByTestId('status').textContent().catch(() => '')) === 'hello')
  await until(5000, 'rates on inject', async () => (await nodeEl(page, 'inj').getByTestId('rates').getAttribute('title').catch(() => '')) === 'in 0 · out 1 · errors 0 since deploy')
  await shot(page, '05-inject')
  assert.deepEqual(errors, [])
})

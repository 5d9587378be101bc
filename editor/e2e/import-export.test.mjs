// Import a Node-RED export (Node-RED's type names, an mqtt-broker config node
// pointing at Runnel's own broker) and run it; export everything as Node-RED
// JSON and import it into a fresh server with nothing lost.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, test } from 'node:test'
import { launch, newPage, nodeEl, openEditor, publish, shot, startServer, subscribe, until } from './helpers.mjs'

let browser, a, b
before(async () => {
  browser = await launch()
  a = await startServer()
})
after(async () => {
  await browser?.close()
  await a?.stop()
  await b?.stop()
})

/** A flow as Node-RED 4 exports it, with the properties Runnel does not use (kept on round trip). */
function nodeRedExport(mqttPort) {
  return [
    { id: 'f1a2b3c4d5e6f708', type: 'tab', label: 'From Node-RED', disabled: false, info: 'Imported from **Node-RED**', env: [] },
    { id: 'a1b2c3d4e5f60718', type: 'mqtt in', z: 'f1a2b3c4d5e6f708', name: 'readings', topic: 'nr/+/temp', qos: '1', datatype: 'json', broker: 'b0b1b2b3b4b5b6b7', nl: false, rap: true, rh: 0, inputs: 0, x: 130, y: 80, wires: [['c1c2c3c4c5c6c7c8']] },
    { id: 'c1c2c3c4c5c6c7c8', type: 'rbe', z: 'f1a2b3c4d5e6f708', name: 'changed', func: 'rbe', gap: '', start: '', inout: 'out', septopics: true, property: 'payload.t', topi: 'topic', x: 320, y: 80, wires: [['d1d2d3d4d5d6d7d8']] },
    { id: 'd1d2d3d4d5d6d7d8', type: 'template', z: 'f1a2b3c4d5e6f708', name: 'text', field: 'payload', fieldType: 'msg', format: 'handlebars', syntax: 'mustache', template: '{{{topic}}} is {{payload.t}}', output: 'str', x: 500, y: 80, wires: [['e1e2e3e4e5e6e7e8']] },
    { id: 'e1e2e3e4e5e6e7e8', type: 'mqtt out', z: 'f1a2b3c4d5e6f708', name: '', topic: 'nr/alerts', qos: '', retain: '', respTopic: '', contentType: '', userProps: '', correl: '', expiry: '', broker: 'b0b1b2b3b4b5b6b7', x: 690, y: 80, wires: [] },
    { id: 'b0b1b2b3b4b5b6b7', type: 'mqtt-broker', name: 'local', broker: '127.0.0.1', port: String(mqttPort), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true, birthTopic: '', birthQos: '0', birthPayload: '', birthMsg: {}, closeTopic: '', closeQos: '0', closePayload: '', closeMsg: {}, willTopic: '', willQos: '0', willPayload: '', willMsg: {}, userProps: '', sessionExpiry: '' },
  ]
}

test('import a Node-RED export through the dialog, deploy it, and it runs', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  const exported = nodeRedExport(a.mqttPort)
  await page.keyboard.press('Control+i')
  const dlg = page.getByRole('dialog', { name: 'Import nodes' })
  await dlg.locator('#import-text').fill(JSON.stringify(exported, null, 4))
  await shot(page, '06-import-dialog')
  await dlg.getByTestId('import-confirm').click()
  await dlg.waitFor({ state: 'detached' })
  // The imported tab is shown, with its nodes under Runnel's names.
  assert.deepEqual(await page.locator('.rn-tab').allTextContents(), ['Sensor alerts', 'From Node-RED'])
  assert.equal(await page.locator('.rn-tab.active').textContent(), 'From Node-RED')
  assert.equal(await nodeEl(page, 'a1b2c3d4e5f60718').locator('.rn-node').getAttribute('data-type'), 'mqtt-in')
  assert.equal(await nodeEl(page, 'c1c2c3c4c5c6c7c8').locator('.rn-node').getAttribute('data-type'), 'filter-on-change')
  assert.equal(await page.locator('.react-flow__edge').count(), 3)
  // The config node is listed in its panel, used by two nodes.
  await page.locator('[data-sidebar="config"]').click()
  assert.equal(await page.locator('.rn-config-node[data-id="b0b1b2b3b4b5b6b7"]').textContent(), 'local2')

  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  const running = (await a.flows()).flows
  assert.equal(running.find((o) => o.id === 'c1c2c3c4c5c6c7c8').type, 'filter-on-change')
  assert.equal(running.find((o) => o.id === 'a1b2c3d4e5f60718').rap, true, 'unknown properties are kept')

  const sub = await subscribe(a.mqttPort, 'nr/alerts')
  try {
    await publish(a.mqttPort, 'nr/k1/temp', '{"t":5}')
    await publish(a.mqttPort, 'nr/k1/temp', '{"t":5}')
    await publish(a.mqttPort, 'nr/k1/temp', '{"t":6}')
    await sub.waitFor(2)
    await page.waitForTimeout(400)
    assert.deepEqual(sub.lines, ['nr/alerts nr/k1/temp is 5', 'nr/alerts nr/k1/temp is 6'])
  } finally {
    sub.stop()
  }
  await shot(page, '07-imported-running')
  assert.deepEqual(errors, [])
})

test('export all as Node-RED JSON, import into a fresh server: nothing lost', async () => {
  const { page, errors } = await newPage(browser, { downloads: true })
  await openEditor(page, a.url)
  await page.keyboard.press('Control+e')
  const dlg = page.getByRole('dialog', { name: 'Export nodes' })
  await dlg.locator('input[value="all"]').check()
  await dlg.locator('input[value="node-red"]').check()
  await shot(page, '08-export-dialog')
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 10_000 }), dlg.getByTestId('export-download').click()])
  assert.equal(download.suggestedFilename(), 'flows.json')
  const file = await download.path()
  const text = readFileSync(file, 'utf8')
  const exported = JSON.parse(text)
  const fromA = (await a.flows()).flows
  // Node-RED's names in the file, and otherwise exactly the running flows.
  assert.deepEqual(exported.map((o) => o.type).filter((t) => /^(mqtt[ -](in|out)|rbe|filter-on-change)$/.test(t)).sort(), ['mqtt in', 'mqtt in', 'mqtt out', 'mqtt out', 'rbe', 'rbe'])
  const names = { 'mqtt in': 'mqtt-in', 'mqtt out': 'mqtt-out', rbe: 'filter-on-change' }
  assert.deepEqual(exported.map((o) => ({ ...o, type: names[o.type] ?? o.type })), fromA)

  // A fresh server (it has the example flow, whose ids the export shares): upload the file, replace.
  // It takes over the first one's MQTT address, which the exported mqtt-broker config node names.
  const mqttPort = a.mqttPort
  await a.stop()
  a = null
  b = await startServer({ mqttPort })
  await openEditor(page, b.url)
  await page.keyboard.press('Control+i')
  const imp = page.getByRole('dialog', { name: 'Import nodes' })
  await imp.getByTestId('import-file').setInputFiles(file)
  await imp.getByTestId('import-clash').waitFor()
  await imp.locator('input[name="mode"][value="replace"]').check()
  await imp.getByTestId('import-confirm').click()
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  const fromB = (await b.flows()).flows
  assert.deepEqual(fromB, fromA)
  // And it runs there.
  const sub = await subscribe(b.mqttPort, 'nr/alerts')
  try {
    await publish(b.mqttPort, 'nr/k2/temp', '{"t":7}')
    await sub.waitFor(1)
    assert.deepEqual(sub.lines, ['nr/alerts nr/k2/temp is 7'])
  } finally {
    sub.stop()
  }

  // Exported again from the second server, the file is byte for byte the same.
  await page.keyboard.press('Control+e')
  const dlg2 = page.getByRole('dialog', { name: 'Export nodes' })
  await dlg2.locator('input[value="all"]').check()
  await dlg2.locator('input[value="node-red"]').check()
  assert.equal(await dlg2.getByTestId('export-text').inputValue(), text)
  await shot(page, '09-reimported')
  // The page of the first server may try to reconnect to it before it moves on to the second.
  assert.deepEqual(errors.filter((e) => !/WebSocket connection to .* failed: .*ERR_CONNECTION_REFUSED/.test(e.message)), [])
})

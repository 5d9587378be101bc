// The live channel: node errors in the debug sidebar and as an error count on
// the node; a delay's queue length beside its rates; the websocket reconnects after the server goes away, and the
// editor picks up the flows the server runs when it comes back.
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

test('a node error shows in the debug sidebar and as an error count on the node', async () => {
  await server.deploy([
    { id: 'et', type: 'tab', label: 'Errors', disabled: false, info: '' },
    { id: 'einj', type: 'inject', z: 'et', name: 'bad', props: [{ p: 'payload' }], payload: 'not json', payloadType: 'str', topic: '', repeat: '', once: false, onceDelay: 0.1, x: 140, y: 100, wires: [['ejson']] },
    { id: 'ejson', type: 'json', z: 'et', name: 'parse', property: 'payload', action: 'obj', pretty: false, x: 320, y: 100, wires: [[]] },
  ])
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('[data-sidebar="debug"]').click()
  await nodeEl(page, 'einj').locator('button.rn-inject').click()
  const msg = page.getByTestId('debug-msg')
  await until(5000, 'the error in the sidebar', async () => (await msg.count()) === 1)
  assert.equal(await msg.first().evaluate((el) => el.classList.contains('error')), true)
  assert.equal(await msg.first().locator('.rn-debug-node').textContent(), 'node: parse')
  assert.ok((await msg.first().getByTestId('debug-value').textContent()).length > 0)
  const rates = nodeEl(page, 'ejson').getByTestId('rates')
  await until(5000, 'the error count on the node', async () => (await rates.getAttribute('title').catch(() => '')) === 'in 1 · out 0 · errors 1 since deploy')
  assert.equal(await rates.locator('.rn-rate-err').textContent(), '1 err')
  await shot(page, '19-node-error')
  assert.deepEqual(errors, [])
})

test('the websocket reconnects when the server comes back, and the editor reloads its flows', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  const conn = page.getByTestId('connection')
  await until(5000, 'connected', async () => (await conn.getAttribute('data-state')) === 'open')
  assert.deepEqual(await page.locator('.rn-tab').allTextContents(), ['Errors'])
  const { httpPort, mqttPort } = server
  await server.stop()
  server = null
  await until(5000, 'disconnected', async () => (await conn.getAttribute('data-state')) !== 'open')
  await shot(page, '20-disconnected')
  // A fresh server on the same ports: it runs the example flow.
  server = await startServer({ httpPort, mqttPort })
  await until(15_000, 'reconnected', async () => (await conn.getAttribute('data-state')) === 'open')
  await until(5000, 'the example flow', async () => JSON.stringify(await page.locator('.rn-tab').allTextContents()) === '["Sensor alerts"]')
  await page.getByTestId('notice-info').filter({ hasText: 'reloaded' }).waitFor()
  // Statuses come back with the snapshot.
  await until(5000, 'the mqtt in status', async () => (await nodeEl(page, 'sensors-in').getByTestId('status').count()) === 1)
  assert.deepEqual(errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e.message)), [])
})

test('a delay holding messages shows how many beside its rates', async () => {
  await server.deploy([
    { id: 'qt', type: 'tab', label: 'Queued', disabled: false, info: '' },
    { id: 'qinj', type: 'inject', z: 'qt', name: 'go', props: [{ p: 'payload' }], payload: 'x', payloadType: 'str', topic: '', repeat: '', once: false, onceDelay: 0.1, x: 140, y: 100, wires: [['qdly']] },
    { id: 'qdly', type: 'delay', z: 'qt', name: 'hold', pauseType: 'delay', timeout: '60', timeoutUnits: 'seconds', x: 320, y: 100, wires: [[]] },
  ])
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  const button = nodeEl(page, 'qinj').locator('button.rn-inject')
  await button.click()
  await button.click()
  const queued = nodeEl(page, 'qdly').getByTestId('queued')
  await until(5000, 'the queue length on the delay', async () => (await queued.textContent().catch(() => '')) === '2 queued')
  await shot(page, '19b-delay-queued')
  assert.deepEqual(errors, [])
})

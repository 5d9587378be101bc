// The forms GET /nodes describes, as a user fills them: inject's property
// list with typed values (Node-RED's TypedInput), debug's output chosen by its
// label, and an mqtt-broker with a user and a password kept as credentials
// (the password is never shown back).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { dragFromPalette, launch, newPage, nodeEl, openEditor, shot, startServer, until, wire } from './helpers.mjs'

let browser, server
before(async () => {
  browser = await launch()
  server = await startServer()
})
after(async () => {
  await browser?.close()
  await server?.stop()
})

async function idOf(page, type) {
  const els = page.locator(`.rn-node[data-type="${type}"]`)
  assert.equal(await els.count(), 1, `one ${type} node on the canvas`)
  return els.getAttribute('data-id')
}

async function openTrayOf(page, id) {
  await nodeEl(page, id).dblclick()
  const tray = page.getByTestId('tray')
  await tray.waitFor()
  assert.equal(await tray.getAttribute('data-node'), id)
  return tray
}

async function done(page) {
  const tray = page.getByTestId('tray')
  await tray.getByRole('button', { name: /^(Done|Add)$/ }).click()
}

async function deployAndWait(page) {
  const before = (await server.flows()).rev
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).last().waitFor()
  await until(5000, 'the rev to change', async () => (await server.flows()).rev !== before)
}

test('inject → debug built with the forms: typed payload, a further property, debug output by its label', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.getByRole('button', { name: 'Add flow' }).click()
  await dragFromPalette(page, 'inject', 300, 200)
  await dragFromPalette(page, 'debug', 560, 200)
  const inj = await idOf(page, 'inject')
  const dbg = await idOf(page, 'debug')
  await wire(page, inj, dbg)
  // Labels from GET /nodes: a new inject is a timestamp; a new debug is named "debug 1", as in Node-RED 4.
  assert.equal(await nodeEl(page, inj).locator('.rn-label').textContent(), 'timestamp')
  assert.equal(await nodeEl(page, dbg).locator('.rn-label').textContent(), 'debug 1')

  let tray = await openTrayOf(page, inj)
  const entries = tray.getByTestId('list-entry')
  assert.equal(await entries.count(), 2)
  // The payload entry: timestamp, no text box but its formats; then JSON typed in.
  const payloadType = tray.locator('#node-input-props-0-v-type')
  assert.equal(await payloadType.inputValue(), 'date')
  assert.equal(await tray.locator('#node-input-props-0-v').evaluate((e) => e.tagName), 'SELECT')
  await payloadType.selectOption({ label: 'JSON' })
  await tray.locator('#node-input-props-0-v').fill('{"a":[1,2]}')
  await tray.locator('#node-input-props-1-v').fill('greet')
  // A boolean is a choice, not text.
  await tray.getByRole('button', { name: '+ add' }).click()
  assert.equal(await entries.count(), 3)
  await tray.locator('#node-input-props-2-p').fill('flag')
  await tray.locator('#node-input-props-2-v-type').selectOption('bool')
  assert.deepEqual(await tray.locator('#node-input-props-2-v option').allTextContents(), ['true', 'false'])
  // And one that reads the message being built: msg.payload.a[1].
  await tray.getByRole('button', { name: '+ add' }).click()
  await tray.locator('#node-input-props-3-p').fill('copy')
  await tray.locator('#node-input-props-3-v-type').selectOption({ label: 'msg.' })
  await tray.locator('#node-input-props-3-v').fill('payload.a[1]')
  // Reorder: flag goes last.
  await entries.nth(2).getByRole('button', { name: 'Move down' }).click()
  assert.equal(await tray.locator('#node-input-props-3-p').inputValue(), 'flag')
  // The start delay shows only with "inject once".
  assert.equal(await tray.locator('#node-input-onceDelay').count(), 0)
  await tray.locator('#node-input-once').check()
  assert.equal(await tray.locator('#node-input-onceDelay').count(), 1)
  await tray.locator('#node-input-once').uncheck()
  await shot(page, '30-inject-form')
  await done(page)
  assert.equal(await nodeEl(page, inj).locator('.rn-label').textContent(), 'greet: {"a":[1,2]}')

  tray = await openTrayOf(page, dbg)
  const out = tray.locator('#node-input-complete')
  assert.deepEqual(await out.locator('option').allTextContents(), ['msg.payload', 'complete msg object', 'other msg property'])
  await out.selectOption({ label: 'complete msg object' })
  // Without its name the label shows what the node outputs.
  await tray.locator('#node-input-name').fill('')
  await done(page)
  assert.equal(await nodeEl(page, dbg).locator('.rn-label').textContent(), 'msg')

  await deployAndWait(page)
  const byId = new Map((await server.flows()).flows.map((o) => [o.id, o]))
  const n = byId.get(inj)
  // Stored as Node-RED's editor stores it: payload and topic in the node's own properties.
  assert.deepEqual(
    { props: n.props, payload: n.payload, payloadType: n.payloadType, topic: n.topic },
    {
      props: [{ p: 'payload' }, { p: 'topic', vt: 'str' }, { p: 'copy', v: 'payload.a[1]', vt: 'msg' }, { p: 'flag', v: 'true', vt: 'bool' }],
      payload: '{"a":[1,2]}', payloadType: 'json', topic: 'greet',
    },
  )
  assert.equal(byId.get(dbg).complete, 'true')

  await page.locator('[data-sidebar="debug"]').click()
  await page.getByRole('button', { name: 'Clear messages' }).click()
  await nodeEl(page, inj).locator('button.rn-inject').click()
  const mine = page.locator(`[data-testid="debug-msg"][data-node="${dbg}"]`)
  await until(5000, 'the injected message in the debug sidebar', async () => (await mine.count()) === 1)
  const text = await mine.first().getByTestId('debug-value').textContent()
  for (const want of ['topic: "greet"', 'copy: 2', 'flag: true']) assert.ok(text.includes(want), `debug shows ${want}: ${text}`)
  await shot(page, '31-inject-debug')
  assert.deepEqual(errors, [])
})

test('mqtt-broker form: user and password as credentials; the password is never shown back', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.getByRole('button', { name: 'Add flow' }).click()
  await dragFromPalette(page, 'mqtt-in', 300, 200)
  const min = await idOf(page, 'mqtt-in')
  let tray = await openTrayOf(page, min)
  await tray.locator('#node-input-topic').fill('forms/test')
  await tray.locator('#node-input-broker').selectOption('__new__')
  await page.locator('#node-config-input-broker').fill('127.0.0.1')
  await page.locator('#node-config-input-port').fill(String(server.mqttPort))
  // Option labels, and the TLS settings only with TLS.
  assert.equal(await page.locator('#node-config-input-protocolVersion option:checked').textContent(), 'MQTT V3.1.1')
  assert.equal(await page.locator('#node-config-input-tls').count(), 0)
  await page.locator('#node-config-input-usetls').check()
  assert.equal(await page.locator('#node-config-input-tls').count(), 1)
  await page.locator('#node-config-input-usetls').uncheck()
  await page.locator('#node-config-input-user').fill('alice')
  const pw = page.locator('#node-config-input-password')
  assert.equal(await pw.getAttribute('type'), 'password')
  await pw.fill('s3cret-pw')
  await shot(page, '32-broker-credentials')
  await done(page) // Add
  await page.getByTestId('tray').getByRole('button', { name: 'Done' }).click()
  await deployAndWait(page)

  const flows = await server.flows()
  assert.ok(!JSON.stringify(flows).includes('s3cret-pw'), 'GET /flows holds no password')
  const broker = flows.flows.find((o) => o.type === 'mqtt-broker' && o.broker === '127.0.0.1')
  assert.ok(broker, 'the broker is deployed')
  assert.equal(broker.credentials, undefined)
  const creds = await (await fetch(`${server.url}credentials/mqtt-broker/${broker.id}`)).json()
  assert.deepEqual(creds, { user: 'alice', has_password: true })
  assert.equal(await nodeEl(page, min).locator('.rn-label').textContent(), 'forms/test')

  // Open it again: the user is there, the password field is empty and says one is set.
  tray = await openTrayOf(page, min)
  await tray.locator('button[aria-label="Edit config node"]').click()
  await until(5000, 'the stored user', async () => (await page.locator('#node-config-input-user').inputValue()) === 'alice')
  assert.equal(await pw.inputValue(), '')
  assert.equal(await pw.getAttribute('placeholder'), 'set (type to change)')
  assert.ok(!(await page.content()).includes('s3cret-pw'), 'the page holds no password')
  await page.getByTestId('tray').getByRole('button', { name: 'Cancel' }).click()
  await page.getByTestId('tray').getByRole('button', { name: 'Cancel' }).click()

  // Deploying again without touching the password keeps it.
  tray = await openTrayOf(page, min)
  await tray.locator('#node-input-topic').fill('forms/test2')
  await done(page)
  await deployAndWait(page)
  assert.deepEqual(await (await fetch(`${server.url}credentials/mqtt-broker/${broker.id}`)).json(), { user: 'alice', has_password: true })
  assert.deepEqual(errors, [])
})

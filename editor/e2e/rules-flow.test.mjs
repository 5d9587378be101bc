// A flow with change, switch and range built with the forms alone, as a user
// does it (mouse and keyboard, no JSON typed anywhere), deployed from the
// editor and run with Debian's mosquitto_pub / mosquitto_sub against the
// embedded broker. Reordering switch rules moves their wires; a bad JSONata
// expression is rejected at deploy naming the node and the rule's field,
// while the running flow keeps working.
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import {
  artifacts, dragFromPalette, launch, newPage, nodeEl, openEditor, publish, shot, startServer, subscribe, until, wire,
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

/** Drags a node of a type from the palette and returns its id (the one node of the canvas that is new). */
async function place(page, type, x, y) {
  const ids = async () => page.locator('.rn-node').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))
  const before = new Set(await ids())
  await dragFromPalette(page, type, x, y)
  const added = (await ids()).filter((id) => !before.has(id))
  assert.equal(added.length, 1, `one new ${type} node`)
  return added[0]
}

async function openTray(page, id) {
  await nodeEl(page, id).dblclick()
  const tray = page.getByTestId('tray')
  await tray.waitFor()
  assert.equal(await tray.getAttribute('data-node'), id)
  return tray
}

async function done(page) {
  const tray = page.getByTestId('tray')
  await tray.getByRole('button', { name: 'Done' }).click()
  await tray.waitFor({ state: 'detached' })
}

/** The current tab as the export dialog shows it (Node-RED's names, compact), parsed. */
async function exported(page) {
  await page.keyboard.press('Control+e')
  const dlg = page.getByRole('dialog', { name: 'Export nodes' })
  await dlg.locator('input[value="flow"]').check()
  await dlg.locator('input[value="node-red"]').check()
  const box = dlg.getByRole('checkbox', { name: 'formatted' })
  if (await box.isChecked()) await box.uncheck()
  const text = await dlg.getByTestId('export-text').inputValue()
  await dlg.getByRole('button', { name: 'Cancel' }).click()
  return { text, objs: JSON.parse(text) }
}

test('mqtt in → change → switch → range → mqtt out, built with the forms, deployed, and run with mosquitto', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('.rn-palette-node').first().waitFor()
  // A clean tab: add one and delete the example flow's.
  await page.getByRole('button', { name: 'Add flow' }).click()
  await page.locator('.rn-tab', { hasText: 'Sensor alerts' }).dblclick()
  await page.getByRole('dialog', { name: 'Edit flow' }).getByRole('button', { name: 'Delete' }).click()
  assert.deepEqual(await page.locator('.rn-tab').allTextContents(), ['Flow 1'])

  const id = {}
  id.in = await place(page, 'mqtt-in', 220, 200)
  id.change = await place(page, 'change', 380, 200)
  id.debug = await place(page, 'debug', 540, 320)
  id.switch = await place(page, 'switch', 540, 200)
  id.range = await place(page, 'range', 700, 160)
  id.hot = await place(page, 'mqtt-out', 860, 160)
  id.ok = await place(page, 'mqtt-out', 860, 260)

  let tray = await openTray(page, id.in)
  await tray.locator('#node-input-topic').fill('sensors/+')
  await done(page)

  // change: three rules, typed in the list editor.
  tray = await openTray(page, id.change)
  const rules = tray.getByTestId('list-entry')
  assert.equal(await rules.count(), 0)
  // The single-rule form of old flows is kept but not shown.
  assert.equal(await tray.locator('#node-input-action').count(), 0)
  const add = tray.getByRole('button', { name: '+ add' })
  await add.click()
  await add.click()
  await add.click()
  assert.equal(await rules.count(), 3)
  // 1: set msg.payload.f to the JSONata expression.
  assert.equal(await tray.locator('#node-input-rules-0-t option:checked').textContent(), 'Set')
  await tray.locator('#node-input-rules-0-p').fill('payload.f')
  await tray.locator('#node-input-rules-0-to-type').selectOption({ label: 'JSONata' })
  await tray.locator('#node-input-rules-0-to').fill('payload.t * 9 / 5 + 32')
  // 2: move msg.topic to msg.source.
  await tray.locator('#node-input-rules-1-t').selectOption({ label: 'Move' })
  await tray.locator('#node-input-rules-1-p').fill('topic')
  await tray.locator('#node-input-rules-1-to-type').selectOption({ label: 'msg.' })
  await tray.locator('#node-input-rules-1-to').fill('source')
  // 3: delete msg.payload.junk; a delete rule has no value.
  await tray.locator('#node-input-rules-2-t').selectOption({ label: 'Delete' })
  await tray.locator('#node-input-rules-2-p').fill('payload.junk')
  assert.equal(await tray.locator('#node-input-rules-2-to').count(), 0)
  await shot(page, '40-change-rules')
  await done(page)

  // switch: payload.f > 80, otherwise; two outputs.
  tray = await openTray(page, id.switch)
  await tray.locator('#node-input-property').fill('payload.f')
  // A new switch has one == rule, as in Node-RED: one more makes two.
  assert.equal(await tray.locator('#node-input-rules-0-t').inputValue(), 'eq')
  await tray.getByRole('button', { name: '+ add' }).click()
  await tray.locator('#node-input-rules-0-t').selectOption({ label: '>' })
  await tray.locator('#node-input-rules-0-v').fill('80')
  await tray.locator('#node-input-rules-0-v-type').selectOption({ label: 'number' })
  await tray.locator('#node-input-rules-1-t').selectOption({ label: 'otherwise' })
  assert.equal(await tray.locator('#node-input-rules-1-v').count(), 0)
  // Check all rules or stop at the first match: a choice, not JSON.
  const checkall = tray.locator('#node-input-checkall')
  assert.equal(await checkall.evaluate((e) => e.tagName), 'SELECT')
  assert.deepEqual(await checkall.locator('option').allTextContents(), ['checking all rules', 'stopping after first match'])
  assert.equal(await checkall.inputValue(), 'true')
  await shot(page, '41-switch-rules')
  await done(page)
  assert.equal(await nodeEl(page, id.switch).locator('.react-flow__handle[data-handleid^="o"]').count(), 2)

  // range: 32..212 °F to 0..100, rounded.
  tray = await openTray(page, id.range)
  await tray.locator('#node-input-property').fill('payload.f')
  await tray.locator('#node-input-minin').fill('32')
  await tray.locator('#node-input-maxin').fill('212')
  await tray.locator('#node-input-minout').fill('0')
  await tray.locator('#node-input-maxout').fill('100')
  await tray.locator('#node-input-round').check()
  await done(page)

  tray = await openTray(page, id.hot)
  await tray.locator('#node-input-topic').fill('out/hot')
  await done(page)
  tray = await openTray(page, id.ok)
  await tray.locator('#node-input-topic').fill('out/ok')
  await done(page)

  await wire(page, id.in, id.change)
  await wire(page, id.change, id.switch)
  await wire(page, id.change, id.debug)
  await wire(page, id.switch, id.range, 0)
  await wire(page, id.switch, id.ok, 1)
  await wire(page, id.range, id.hot)
  assert.equal(await page.locator('.react-flow__edge').count(), 6)
  await shot(page, '42-rules-flow-drawn')

  // Reorder the switch's rules: the wires move with them (in the exported flow); and back.
  let flow = (await exported(page)).objs
  assert.deepEqual(flow.find((o) => o.id === id.switch).wires, [[id.range], [id.ok]])
  for (const [button, wires, tests] of [['Move up', [[id.ok], [id.range]], ['else', 'gt']], ['Move down', [[id.range], [id.ok]], ['gt', 'else']]]) {
    tray = await openTray(page, id.switch)
    const i = button === 'Move up' ? 1 : 0
    const b = tray.getByTestId('list-entry').nth(i).getByRole('button', { name: button })
    // By mouse one way, by keyboard the other.
    if (button === 'Move up') await b.click()
    else await b.press('Enter')
    await done(page)
    const sw = (await exported(page)).objs.find((o) => o.id === id.switch)
    assert.deepEqual(sw.rules.map((r) => r.t), tests)
    assert.deepEqual(sw.wires, wires, `after ${button}`)
  }

  const before = (await server.flows()).rev
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  await until(5000, 'the rev to change', async () => (await server.flows()).rev !== before)

  const { objs } = await exported(page)
  // The flow for the README, one object a line.
  writeFileSync(join(artifacts, 'rules-flow.json'), '[\n' + objs.map((o) => JSON.stringify(o)).join(',\n') + '\n]\n')
  flow = objs
  const byId = new Map(flow.map((o) => [o.id, o]))
  // Each rule keeps only its own fields, as Node-RED's editor saves them.
  assert.deepEqual(byId.get(id.change).rules, [
    { t: 'set', p: 'payload.f', pt: 'msg', to: 'payload.t * 9 / 5 + 32', tot: 'jsonata', dc: false },
    { t: 'move', p: 'topic', pt: 'msg', to: 'source', tot: 'msg' },
    { t: 'delete', p: 'payload.junk', pt: 'msg' },
  ])
  assert.deepEqual(byId.get(id.switch).rules, [{ t: 'gt', v: '80', vt: 'num' }, { t: 'else' }])
  assert.equal(byId.get(id.switch).checkall, 'true')

  // One subscriber for both topics (mosquitto_sub's client id is per test process and port).
  const sub = await subscribe(server.mqttPort, 'out/#')
  try {
    await publish(server.mqttPort, 'sensors/dev1', '{"t":40,"junk":"x","h":55}')
    await publish(server.mqttPort, 'sensors/dev2', '{"t":20.5,"junk":true}')
    await publish(server.mqttPort, 'sensors/dev3', '{"t":33.3,"h":1}')
    await sub.waitFor(3)
    await page.waitForTimeout(300) // nothing more may come
    // What Node-RED 4 publishes: f appended by set, junk deleted, f scaled and rounded on the hot path.
    const on = (topic) => sub.lines.filter((l) => l.startsWith(topic + ' '))
    assert.deepEqual(on('out/hot'), ['out/hot {"t":40,"h":55,"f":40}', 'out/hot {"t":33.3,"h":1,"f":33}'])
    assert.deepEqual(on('out/ok'), ['out/ok {"t":20.5,"f":68.9}'])
    assert.equal(sub.lines.length, 3)
  } finally {
    sub.stop()
  }
  await shot(page, '43-rules-flow-deployed')

  // A bad JSONata expression in rule 1: the deploy is rejected, naming the change node and the rule's field.
  const running = await server.flows()
  tray = await openTray(page, id.change)
  await tray.locator('#node-input-rules-0-to').fill('payload.t * 9 / 5 +')
  await done(page)
  await page.getByTestId('deploy').click()
  const notice = page.getByTestId('notice-error')
  await notice.waitFor()
  const noticeText = await notice.textContent()
  assert.match(noticeText, /^Deploy rejected: 1 problem/)
  assert.ok(noticeText.includes(`change ${id.change} rules[0].to: `), noticeText)
  const problem = await nodeEl(page, id.change).getByTestId('node-problem').textContent()
  assert.match(problem, /^rules\[0\]\.to: /)
  assert.equal(await page.locator('.rn-node.invalid').count(), 1)
  // In the form, at the rule's field.
  tray = await openTray(page, id.change)
  const entry = tray.getByTestId('list-entry').nth(0)
  assert.equal(await entry.locator('.rn-typed.invalid').count(), 1)
  const fieldError = await entry.getByRole('alert').textContent()
  assert.ok(problem.endsWith(fieldError.replace(/^To: /, '')), `${fieldError} | ${problem}`)
  await shot(page, '44-rules-flow-bad-jsonata')
  await tray.getByRole('button', { name: 'Cancel' }).click()
  // Nothing changed on the server, and the running flow still runs.
  assert.deepEqual(await server.flows(), running)
  const sub2 = await subscribe(server.mqttPort, 'out/#')
  try {
    await publish(server.mqttPort, 'sensors/dev4', '{"junk":[1],"t":100}')
    await sub2.waitFor(1)
    assert.deepEqual(sub2.lines, ['out/hot {"t":100,"f":100}'])
  } finally {
    sub2.stop()
  }
  assert.deepEqual(errors, [])
})

// Subflows in the editor, as Node-RED has them: a Node-RED export with a
// subflow imports and exports back unchanged and runs; "Selection to
// Subflow" makes a definition and an instance wired as the nodes were, and
// the deployed flow still works through the broker; an instance's form sets
// its env overrides, which the deployed subflow uses; instances come from
// the palette's "subflows" category; a subflow opens on its own tab with
// its port nodes, outputs are added and wired there, and deleting a
// definition with instances asks first. And inject's schedule picker
// writes (and reads back) Node-RED's repeat and crontab.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { dragFromPalette, launch, newPage, nodeEl, openEditor, publish, shot, startServer, subscribe } from './helpers.mjs'

let browser, a
before(async () => {
  browser = await launch()
  a = await startServer()
})
after(async () => {
  await browser?.close()
  await a?.stop()
})

const tab = '5f5f5f5f5f5f0001'
const sf = '5f5f5f5f5f5f00a0'
const fn = '5f5f5f5f5f5f00a1'
const inst = '5f5f5f5f5f5f0003'

const want0 = () => ({ name: 'GREETING', type: 'str', value: 'hello', ui: { label: { 'en-US': 'Greeting' }, type: 'input', opts: { types: ['str', 'env'] } } })

/** A flow with a subflow, as Node-RED 4 exports it. */
function nodeRedExport() {
  return [
    { id: tab, type: 'tab', label: 'With subflow', disabled: false, info: '', env: [] },
    {
      id: sf, type: 'subflow', name: 'Greeter', info: 'Says hello', category: '',
      in: [{ x: 60, y: 80, wires: [{ id: fn }] }],
      out: [{ x: 420, y: 80, wires: [{ id: fn, port: 0 }] }],
      env: [
        { name: 'GREETING', type: 'str', value: 'hello', ui: { label: { 'en-US': 'Greeting' }, type: 'input', opts: { types: ['str', 'env'] } } },
        { name: 'TIMES', type: 'num', value: '1' },
        { name: 'LOUD', type: 'bool', value: 'false' },
        { name: 'TOKEN', type: 'cred' },
      ],
      meta: {}, color: '#DDAA99',
    },
    {
      id: fn, type: 'function', z: sf, name: 'greet',
      func: 'let s = env.get("GREETING") + " " + msg.payload\nif (env.get("LOUD")) s = s.toUpperCase()\nmsg.payload = s.repeat(env.get("TIMES")) + (env.get("TOKEN") ? "+" + env.get("TOKEN") : "")\nreturn msg;',
      outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 240, y: 80, wires: [[]],
    },
    { id: '5f5f5f5f5f5f0002', type: 'mqtt in', z: tab, name: '', topic: 'sf/in', qos: '1', datatype: 'utf8', broker: '', nl: false, rap: true, rh: 0, inputs: 0, x: 120, y: 100, wires: [[inst]] },
    { id: inst, type: 'subflow:' + sf, z: tab, name: '', env: [{ name: 'GREETING', type: 'str', value: 'hi' }], x: 300, y: 100, wires: [['5f5f5f5f5f5f0004']] },
    { id: '5f5f5f5f5f5f0004', type: 'mqtt out', z: tab, name: '', topic: 'sf/out', qos: '', retain: '', broker: '', x: 480, y: 100, wires: [] },
  ]
}

async function importText(page, text) {
  await page.keyboard.press('Control+i')
  const dlg = page.getByRole('dialog', { name: 'Import nodes' })
  await dlg.locator('#import-text').fill(text)
  await dlg.getByTestId('import-confirm').click()
  await dlg.waitFor({ state: 'detached' })
}

/** The document as the export dialog gives it with Node-RED's names. */
async function exported(page, scope = 'all') {
  await page.keyboard.press('Escape')
  await page.keyboard.press('Control+e')
  const dlg = page.getByRole('dialog', { name: 'Export nodes' })
  await dlg.locator(`input[name="scope"][value="${scope}"]`).check()
  await dlg.locator('input[value="node-red"]').check()
  const text = await dlg.getByTestId('export-text').inputValue()
  await page.keyboard.press('Escape')
  await dlg.waitFor({ state: 'detached' })
  return JSON.parse(text)
}

async function deploy(page) {
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).last().waitFor()
}

/** Publishes on topic and returns the first message on out. */
async function roundTrip(topicIn, topicOut, payload) {
  const sub = await subscribe(a.mqttPort, topicOut)
  try {
    await publish(a.mqttPort, topicIn, payload)
    return (await sub.waitFor(1))[0]
  } finally {
    sub.stop()
  }
}

const byId = (doc) => new Map(doc.map((o) => [o.id, o]))

test('a Node-RED export with a subflow imports, exports back unchanged, and runs', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  await importText(page, JSON.stringify(nodeRedExport(), null, 4))
  assert.equal(await page.locator('.rn-tab.active').textContent(), 'With subflow')
  // The instance draws with its definition's name and ports.
  const node = nodeEl(page, inst)
  assert.equal(await node.locator('.rn-label').textContent(), 'Greeter')
  assert.equal(await node.locator('.react-flow__handle').count(), 2)
  // The subflow is in the palette, under "subflows", first.
  assert.equal(await page.locator('.rn-palette-cat').first().getAttribute('data-category'), 'subflows')
  assert.equal(await page.locator(`.rn-palette-node[data-type="subflow:${sf}"]`).textContent(), 'Greeter')

  // Export everything: the objects as they came, in their order (the server's seed flow aside).
  const want = nodeRedExport()
  const ours = new Set(want.map((o) => o.id))
  const doc = (await exported(page)).filter((o) => ours.has(o.id))
  assert.deepEqual(doc, want)
  assert.equal(JSON.stringify(doc), JSON.stringify(want))

  await deploy(page)
  assert.equal(await roundTrip('sf/in', 'sf/out', 'there'), 'sf/out hi there')
  await shot(page, 'subflows-01-imported')
  assert.deepEqual(errors, [])
})

test("an instance's form shows the subflow's properties and sets its env overrides", async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  await page.locator('.rn-tab', { hasText: 'With subflow' }).click()
  await nodeEl(page, inst).dblclick()
  const tray = page.getByTestId('tray')
  const form = tray.getByTestId('subflow-env')
  // One row per property of the definition, with the instance's value where it has one.
  assert.deepEqual(await form.locator('.rn-subflow-envrow label').allTextContents(), ['Greeting', 'TIMES', 'LOUD', 'TOKEN'])
  assert.equal(await form.locator('#node-input-env-GREETING').inputValue(), 'hi')
  assert.equal(await form.locator('#node-input-env-TIMES').inputValue(), '1')
  assert.equal(await form.locator('#node-input-env-LOUD').isChecked(), false)
  // GREETING may be a string or an env variable (its ui's types).
  assert.deepEqual(await form.locator('[data-env="GREETING"] select option').allTextContents(), ['string', 'env variable'])
  await form.locator('#node-input-env-GREETING').fill('hey')
  await form.locator('#node-input-env-TIMES').fill('2')
  await form.locator('#node-input-env-LOUD').check()
  // A credential: a password field, its value sent as the instance's credentials, never exported.
  assert.equal(await form.locator('#node-input-env-TOKEN').getAttribute('type'), 'password')
  await form.locator('#node-input-env-TOKEN').fill('sekrit')
  await shot(page, 'subflows-02-instance-form')
  await tray.getByRole('button', { name: 'Done' }).click()
  await tray.waitFor({ state: 'detached' })

  const doc = byId(await exported(page))
  assert.equal(JSON.stringify(doc.get(inst).env), JSON.stringify([
    { name: 'GREETING', type: 'str', value: 'hey' },
    { name: 'TIMES', type: 'num', value: '2' },
    { name: 'LOUD', type: 'bool', value: 'true' },
    { name: 'TOKEN', type: 'cred' },
  ]))
  assert.equal('credentials' in doc.get(inst), false)
  await deploy(page)
  assert.equal(await roundTrip('sf/in', 'sf/out', 'x'), 'sf/out HEY XHEY X+sekrit')

  // Back to the subflow's value: the override goes.
  await nodeEl(page, inst).dblclick()
  await tray.getByRole('button', { name: 'Reset TIMES' }).click()
  await tray.getByRole('button', { name: 'Done' }).click()
  const doc2 = byId(await exported(page))
  assert.deepEqual(doc2.get(inst).env.map((e) => e.name), ['GREETING', 'LOUD', 'TOKEN'])
  await deploy(page)
  assert.equal(await roundTrip('sf/in', 'sf/out', 'y'), 'sf/out HEY Y+sekrit')
  assert.deepEqual(errors, [])
})

test('the subflow opens on its own tab: ports, outputs added and wired, definition edited and deployed', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  await page.locator('.rn-tab', { hasText: 'With subflow' }).click()
  // Double-click in the palette opens it, as in Node-RED; so does the instance form's button.
  await page.locator(`.rn-palette-node[data-type="subflow:${sf}"]`).dblclick()
  const sfTab = page.locator(`[data-subflow-tab="${sf}"]`)
  await sfTab.waitFor()
  assert.equal(await sfTab.getAttribute('aria-selected'), 'true')
  assert.equal(await page.getByTestId('subflow-bar').count(), 1)
  // Its function node, an input port and one output port, wired.
  assert.equal(await nodeEl(page, fn).count(), 1)
  assert.deepEqual(await page.locator('.rn-subflow-port').evaluateAll((els) => els.map((e) => e.dataset.port + e.textContent)), ['ininput', 'out1'])
  assert.equal(await page.locator('.react-flow__edge').count(), 2)
  assert.equal(await page.getByTestId('subflow-inputs-1').getAttribute('aria-pressed'), 'true')

  // A second output, wired from the function: the instance gets a second port.
  await page.getByTestId('subflow-outputs-plus').click()
  assert.equal(await page.getByTestId('subflow-outputs').textContent(), '2')
  const out2 = page.locator(`.react-flow__node[data-id="${sf}~out1"]`)
  await out2.waitFor()
  await nodeEl(page, fn).locator('.react-flow__handle[data-handleid="o0"]').dragTo(out2.locator('.react-flow__handle[data-handleid="i"]'))
  assert.equal(await page.locator('.react-flow__edge').count(), 3)
  // A status output.
  await page.getByTestId('subflow-status').check()
  assert.equal(await page.locator('.rn-subflow-port.status').count(), 1)
  await shot(page, 'subflows-03-subflow-tab')

  // Rename it in its properties, and add a property.
  await page.getByTestId('subflow-edit').click()
  const dlg = page.getByTestId('subflow-props')
  await dlg.locator('#subflow-name').fill('Greeter 2')
  await dlg.getByTestId('subflow-env-add').click()
  await dlg.locator('tr[data-env="4"] input[aria-label="Property name"]').fill('EXTRA')
  await dlg.locator('tr[data-env="4"] input[aria-label="Default value"]').fill('x')
  await dlg.locator('tr[data-env="4"] input[aria-label="Label"]').fill('Extra')
  // LOUD shown as a checkbox, as Node-RED's UI options write it.
  await dlg.locator('tr[data-env="2"] select[aria-label="Form widget"]').selectOption('checkbox')
  await shot(page, 'subflows-04-subflow-props')
  await dlg.getByTestId('subflow-props-done').click()
  await dlg.waitFor({ state: 'detached' })
  assert.match(await sfTab.textContent(), /Greeter 2/)

  const doc = byId(await exported(page))
  const def = doc.get(sf)
  assert.equal(def.name, 'Greeter 2')
  assert.equal(def.out.length, 2)
  assert.deepEqual(def.out[1].wires, [{ id: fn, port: 0 }])
  assert.deepEqual(def.status.wires, [])
  assert.deepEqual(def.env[4], { name: 'EXTRA', type: 'str', value: 'x', ui: { label: { 'en-US': 'Extra' } } })
  assert.deepEqual(def.env[2], { name: 'LOUD', type: 'bool', value: 'false', ui: { type: 'checkbox' } })
  assert.deepEqual(def.env[0], want0())
  assert.deepEqual(doc.get(inst).wires, [['5f5f5f5f5f5f0004'], []])

  // Its instance on the flow is marked changed, as Node-RED marks it, until deployed.
  await page.locator('.rn-tab', { hasText: 'With subflow' }).click()
  assert.equal(await nodeEl(page, inst).locator('.rn-changed').count(), 1)
  // Deployed: the changed definition replaces its instance, which runs it.
  await deploy(page)
  assert.equal(await nodeEl(page, inst).locator('.rn-changed').count(), 0)
  await sfTab.click()
  const flows = byId((await a.flows()).flows)
  assert.equal(flows.get(sf).out.length, 2)
  assert.equal(await roundTrip('sf/in', 'sf/out', 'z'), 'sf/out HEY Z+sekrit')

  // Removing the output again takes its wires off the instance.
  await page.getByTestId('subflow-outputs-minus').click()
  const doc2 = byId(await exported(page))
  assert.equal(doc2.get(sf).out.length, 1)
  assert.deepEqual(doc2.get(inst).wires, [['5f5f5f5f5f5f0004']])
  // Undo brings it back.
  await page.keyboard.press('Control+z')
  assert.equal(await page.getByTestId('subflow-outputs').textContent(), '2')
  await page.keyboard.press('Control+z')
  // Closing the tab goes back to a flow.
  await sfTab.locator('.rn-subflow-tab-close').click()
  assert.equal(await page.locator(`[data-subflow-tab="${sf}"]`).count(), 0)
  assert.deepEqual(errors, [])
})

test('copying an instance takes its subflow along; pasting it where the subflow is reuses it', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  await page.locator('.rn-tab', { hasText: 'With subflow' }).click()
  await nodeEl(page, inst).click()
  // The selection's export holds the definition and its node, before the instance.
  await page.keyboard.press('Control+e')
  const dlg = page.getByRole('dialog', { name: 'Export nodes' })
  await dlg.locator('input[name="scope"][value="selected"]').check()
  const sel = JSON.parse(await dlg.getByTestId('export-text').inputValue())
  await page.keyboard.press('Escape')
  assert.deepEqual(sel.map((o) => o.id), [sf, fn, inst])
  assert.equal(sel[1].z, sf)

  await nodeEl(page, inst).click()
  await page.keyboard.press('Control+c')
  await page.locator('.rn-tab', { hasText: 'Sensor alerts' }).click()
  await page.mouse.move(500, 500)
  await page.keyboard.press('Control+v')
  const pasted = page.locator(`.react-flow__node.selected .rn-node[data-type="subflow:${sf}"]`)
  await pasted.waitFor()
  const doc = await exported(page)
  // One definition, its one node still inside it; two instances.
  assert.equal(doc.filter((o) => o.type === 'subflow').length, 1)
  assert.deepEqual(doc.filter((o) => o.z === sf).map((o) => o.id), [fn])
  assert.equal(doc.filter((o) => o.type === 'subflow:' + sf).length, 2)
  assert.deepEqual(errors, [])
})

test('selection to subflow: the nodes move into a new subflow, an instance takes their place, and the flow still runs', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  const t = '6a6a6a6a6a6a0001'
  const ids = { in: '6a6a6a6a6a6a0002', a: '6a6a6a6a6a6a0003', b: '6a6a6a6a6a6a0004', out: '6a6a6a6a6a6a0005', dbg: '6a6a6a6a6a6a0006' }
  await importText(page, JSON.stringify([
    { id: t, type: 'tab', label: 'Convert', disabled: false, info: '' },
    { id: ids.in, type: 'mqtt in', z: t, name: '', topic: 'cv/in', qos: '1', datatype: 'utf8', broker: '', x: 120, y: 100, wires: [[ids.a]] },
    { id: ids.a, type: 'function', z: t, name: 'upper', func: 'msg.payload = msg.payload.toUpperCase()\nreturn msg;', outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 300, y: 100, wires: [[ids.b]] },
    { id: ids.b, type: 'function', z: t, name: 'wrap', func: 'msg.payload = "[" + msg.payload + "]"\nreturn msg;', outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 460, y: 100, wires: [[ids.out, ids.dbg]] },
    { id: ids.out, type: 'mqtt out', z: t, name: '', topic: 'cv/out', qos: '', retain: '', broker: '', x: 640, y: 100, wires: [] },
    { id: ids.dbg, type: 'debug', z: t, name: '', active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', x: 640, y: 160, wires: [] },
  ]))
  await page.keyboard.press('Escape')
  await nodeEl(page, ids.a).click()
  await nodeEl(page, ids.b).click({ modifiers: ['Shift'] })
  await nodeEl(page, ids.b).click({ button: 'right' })
  await page.getByRole('menuitem', { name: 'Selection to Subflow' }).click()
  // The two nodes are gone from the tab; an instance is there, selected.
  assert.equal(await nodeEl(page, ids.a).count(), 0)
  const instEl = page.locator('.react-flow__node.selected .rn-node')
  const instId = await instEl.getAttribute('data-id')
  assert.match(await instEl.getAttribute('data-type'), /^subflow:/)
  assert.equal(await instEl.locator('.rn-label').textContent(), 'Subflow 1')
  await shot(page, 'subflows-05-converted')

  const doc = byId(await exported(page))
  const instance = doc.get(instId)
  const defId = instance.type.slice('subflow:'.length)
  const def = doc.get(defId)
  // Node-RED's new definition: an input wired to the first node, one output from the second.
  assert.deepEqual(Object.keys(def), ['id', 'type', 'name', 'info', 'category', 'in', 'out', 'env', 'meta', 'color'])
  assert.equal(def.name, 'Subflow 1')
  assert.deepEqual(def.in.map((p) => p.wires), [[{ id: ids.a }]])
  assert.deepEqual(def.out.map((p) => p.wires), [[{ id: ids.b, port: 0 }]])
  // The nodes are in it, wired to each other only, moved as Node-RED moves them (bounding box less 140, 60).
  assert.equal(doc.get(ids.a).z, defId)
  assert.equal(doc.get(ids.b).z, defId)
  assert.deepEqual(doc.get(ids.a).wires, [[ids.b]])
  assert.deepEqual(doc.get(ids.b).wires, [[]])
  assert.deepEqual([doc.get(ids.a).x, doc.get(ids.a).y], [300 - 120, 100 - 20])
  // The instance is wired as the nodes were: in from mqtt in, out to both.
  assert.equal(instance.z, t)
  assert.deepEqual(doc.get(ids.in).wires, [[instId]])
  assert.deepEqual(instance.wires, [[ids.out, ids.dbg]])
  assert.deepEqual(instance.env, [])

  await deploy(page)
  const flows = byId((await a.flows()).flows)
  assert.equal(flows.get(defId).type, 'subflow')
  assert.equal(flows.get(instId).type, 'subflow:' + defId)
  assert.equal(await roundTrip('cv/in', 'cv/out', 'abc'), 'cv/out [ABC]')

  // Undo puts the nodes back.
  await page.keyboard.press('Control+z')
  assert.equal(await nodeEl(page, ids.a).count(), 1)
  await page.keyboard.press('Control+y')
  assert.equal(await nodeEl(page, ids.a).count(), 0)

  // A selection with wires into two of its nodes is refused, as in Node-RED.
  await importText(page, JSON.stringify([
    { id: '6b6b6b6b6b6b0001', type: 'inject', z: t, name: 'i1', props: [{ p: 'payload' }], repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', payload: '', payloadType: 'date', x: 100, y: 300, wires: [['6b6b6b6b6b6b0003']] },
    { id: '6b6b6b6b6b6b0002', type: 'inject', z: t, name: 'i2', props: [{ p: 'payload' }], repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', payload: '', payloadType: 'date', x: 100, y: 360, wires: [['6b6b6b6b6b6b0004']] },
    { id: '6b6b6b6b6b6b0003', type: 'debug', z: t, name: 'd1', active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', x: 300, y: 300, wires: [] },
    { id: '6b6b6b6b6b6b0004', type: 'debug', z: t, name: 'd2', active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload', targetType: 'msg', x: 300, y: 360, wires: [] },
  ]))
  await page.keyboard.press('Escape')
  await nodeEl(page, '6b6b6b6b6b6b0003').click()
  await nodeEl(page, '6b6b6b6b6b6b0004').click({ modifiers: ['Shift'] })
  await nodeEl(page, '6b6b6b6b6b6b0004').click({ button: 'right' })
  await page.getByRole('menuitem', { name: 'Selection to Subflow' }).click()
  await page.getByTestId('notice-error').filter({ hasText: 'Cannot create subflow: multiple inputs to selection' }).waitFor()
  assert.equal(await nodeEl(page, '6b6b6b6b6b6b0003').count(), 1)
  assert.deepEqual(errors, [])
})

test('an instance dragged from the palette; deleting a definition with instances asks first', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  await page.locator('.rn-tab', { hasText: 'With subflow' }).click()
  const box = await page.locator('.rn-canvas').boundingBox()
  await dragFromPalette(page, 'subflow:' + sf, box.x + 300, box.y + box.height - 120)
  const added = page.locator(`.react-flow__node.selected .rn-node[data-type="subflow:${sf}"]`)
  await added.waitFor()
  const id = await added.getAttribute('data-id')
  assert.notEqual(id, inst)
  let doc = byId(await exported(page))
  const n = doc.get(id)
  assert.equal(n.z, tab)
  // Two outputs: the definition as the previous test deployed it.
  assert.deepEqual([n.name, n.env, n.wires], ['', [], [[], []]])
  await shot(page, 'subflows-06-palette-instance')
  await deploy(page)

  // Delete the definition: Node-RED asks, naming its instances; cancel keeps it.
  await page.locator(`.rn-palette-node[data-type="subflow:${sf}"]`).dblclick()
  const asked = []
  page.once('dialog', (d) => {
    asked.push(d.message())
    d.dismiss()
  })
  await page.getByTestId('subflow-delete').click()
  assert.deepEqual(asked, ['Delete subflow "Greeter 2" and its 2 instances?'])
  assert.equal(await page.locator(`[data-subflow-tab="${sf}"]`).count(), 1)
  page.once('dialog', (d) => d.accept())
  await page.getByTestId('subflow-delete').click()
  await page.locator(`[data-subflow-tab="${sf}"]`).waitFor({ state: 'detached' })
  doc = byId(await exported(page))
  assert.equal(doc.has(sf), false)
  assert.equal(doc.has(fn), false)
  assert.equal(doc.has(inst), false)
  assert.equal(doc.has(id), false)
  assert.deepEqual(doc.get('5f5f5f5f5f5f0002').wires, [[]])
  assert.equal(await page.locator(`.rn-palette-node[data-type="subflow:${sf}"]`).count(), 0)
  await page.keyboard.press('Control+z')
  assert.equal(await page.locator(`.rn-palette-node[data-type="subflow:${sf}"]`).count(), 1)
  assert.deepEqual(errors, [])
})

test("inject's schedule picker writes Node-RED's crontab and reads it back", async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  const t = '7c7c7c7c7c7c0001'
  const inj = '7c7c7c7c7c7c0002'
  await importText(page, JSON.stringify([
    { id: t, type: 'tab', label: 'Cron', disabled: false, info: '' },
    { id: inj, type: 'inject', z: t, name: 'tick', props: [{ p: 'payload' }], repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', payload: '', payloadType: 'date', x: 140, y: 100, wires: [[]] },
  ]))
  await page.keyboard.press('Escape')
  const tray = page.getByTestId('tray')
  const picker = tray.getByTestId('cron-picker')
  const open = async () => {
    await nodeEl(page, inj).dblclick()
    await picker.waitFor()
  }
  const done = async () => {
    await tray.getByRole('button', { name: 'Done' }).click()
    await tray.waitFor({ state: 'detached' })
  }
  const props = async () => {
    const o = byId(await exported(page)).get(inj)
    return [o.repeat, o.crontab]
  }
  await open()
  assert.equal(await picker.getAttribute('data-mode'), 'none')
  // At 12:00 on Monday and Friday.
  await picker.locator('#node-input-repeat').selectOption('time')
  await picker.locator('#node-input-repeat-time').fill('12:00')
  for (const d of [2, 3, 4, 6, 0]) await picker.locator(`#node-input-repeat-day-${d}`).uncheck()
  assert.equal(await picker.getByTestId('cron-result').textContent(), 'crontab: 00 12 * * 1,5')
  await shot(page, 'subflows-07-cron-time')
  await done()
  assert.deepEqual(await props(), ['', '00 12 * * 1,5'])
  // Read back.
  await open()
  assert.equal(await picker.getAttribute('data-mode'), 'time')
  assert.equal(await picker.locator('#node-input-repeat-time').inputValue(), '12:00')
  const checked = await picker.locator('.rn-cron-days input:checked').evaluateAll((els) => els.map((e) => e.value))
  assert.deepEqual(checked, ['1', '5'])

  // Every 5 minutes between 08:00 and 18:00 on Monday to Wednesday.
  await picker.locator('#node-input-repeat').selectOption('interval-time')
  await picker.locator('#node-input-repeat-minutes').selectOption('5')
  await picker.locator('#node-input-repeat-start').selectOption('8')
  await picker.locator('#node-input-repeat-end').selectOption('18')
  for (const d of [1, 2, 3, 4, 5, 6, 0]) await picker.locator(`#node-input-repeat-day-${d}`).setChecked(d >= 1 && d <= 3)
  await shot(page, 'subflows-08-cron-interval-time')
  await done()
  assert.deepEqual(await props(), ['', '*/5 8-17 * * 1,2,3'])
  await open()
  assert.equal(await picker.getAttribute('data-mode'), 'interval-time')
  assert.deepEqual(await Promise.all(['minutes', 'start', 'end'].map((k) => picker.locator(`#node-input-repeat-${k}`).inputValue())), ['5', '8', '18'])

  // Every 2 minutes: repeat in seconds, no crontab.
  await picker.locator('#node-input-repeat').selectOption('interval')
  await picker.locator('#node-input-repeat-count').fill('2')
  await picker.locator('#node-input-repeat-units').selectOption('m')
  await done()
  assert.deepEqual(await props(), ['120', ''])
  await open()
  assert.equal(await picker.getAttribute('data-mode'), 'interval')
  assert.equal(await picker.locator('#node-input-repeat-count').inputValue(), '2')
  assert.equal(await picker.locator('#node-input-repeat-units').inputValue(), 'm')
  await tray.getByRole('button', { name: 'Cancel' }).click()

  // A crontab the picker cannot express is kept, and edited as text.
  await importText(page, JSON.stringify([
    { id: '7c7c7c7c7c7c0003', type: 'inject', z: t, name: 'monthly', props: [{ p: 'payload' }], repeat: '', crontab: '0 0 1 * *', once: false, onceDelay: 0.1, topic: '', payload: '', payloadType: 'date', x: 140, y: 200, wires: [[]] },
  ]))
  await page.keyboard.press('Escape')
  await nodeEl(page, '7c7c7c7c7c7c0003').dblclick()
  assert.equal(await picker.getAttribute('data-mode'), 'custom')
  assert.equal(await picker.locator('#node-input-repeat-crontab').inputValue(), '0 0 1 * *')
  await shot(page, 'subflows-09-cron-custom')
  await done()
  assert.equal(byId(await exported(page)).get('7c7c7c7c7c7c0003').crontab, '0 0 1 * *')
  // The schedules deploy (the runtime accepts Node-RED's crontab grammar).
  await deploy(page)
  assert.deepEqual(errors, [])
})

test('Create Subflow from the menu: an empty subflow on its tab, built with ports, a node and wires; a port deleted with Delete', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  await page.getByTestId('main-menu').click()
  await page.getByRole('menuitem', { name: 'Create Subflow' }).click()
  const tabEl = page.locator('.rn-subflow-tab.active')
  await tabEl.waitFor()
  assert.match(await tabEl.textContent(), /^Subflow \d+×$/)
  const defId = await tabEl.getAttribute('data-subflow-tab')
  assert.equal(await page.locator('.rn-subflow-port').count(), 0)
  await page.getByTestId('subflow-inputs-1').click()
  await page.getByTestId('subflow-outputs-plus').click()
  assert.deepEqual(await page.locator('.rn-subflow-port').evaluateAll((els) => els.map((e) => e.dataset.port)), ['in', 'out'])
  // A function node from the palette, wired between the ports.
  const box = await page.locator('.rn-canvas').boundingBox()
  await dragFromPalette(page, 'function', box.x + box.width / 2, box.y + box.height / 2)
  const f = page.locator('.react-flow__node.selected .rn-node[data-type="function"]')
  const fid = await f.getAttribute('data-id')
  await page.locator(`.react-flow__node[data-id="${defId}~in"] .react-flow__handle`).dragTo(nodeEl(page, fid).locator('.react-flow__handle[data-handleid="i"]'))
  await nodeEl(page, fid).locator('.react-flow__handle[data-handleid="o0"]').dragTo(page.locator(`.react-flow__node[data-id="${defId}~out0"] .react-flow__handle`))
  assert.equal(await page.locator('.react-flow__edge').count(), 2)
  await shot(page, 'subflows-10-created')
  let doc = byId(await exported(page))
  assert.equal(doc.get(fid).z, defId)
  assert.deepEqual(doc.get(defId).in.map((p) => p.wires), [[{ id: fid }]])
  assert.deepEqual(doc.get(defId).out.map((p) => p.wires), [[{ id: fid, port: 0 }]])
  // The output port selected and deleted: gone, with its wire.
  await page.locator(`.react-flow__node[data-id="${defId}~out0"]`).click()
  await page.keyboard.press('Delete')
  assert.equal(await page.locator('.rn-subflow-port').count(), 1)
  assert.equal(await page.locator('.react-flow__edge').count(), 1)
  doc = byId(await exported(page))
  assert.deepEqual(doc.get(defId).out, [])
  // Deleting the function node takes the input's wire to it.
  await nodeEl(page, fid).click()
  await page.keyboard.press('Delete')
  doc = byId(await exported(page))
  assert.deepEqual(doc.get(defId).in.map((p) => p.wires), [[]])
  await deploy(page)
  assert.deepEqual(errors, [])
})

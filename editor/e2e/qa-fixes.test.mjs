// What a Node-RED user expects, found in a QA walkthrough: a Node-RED
// export holding a subflow (its definition, its nodes and an instance, no
// tab) imports into the current flow or a new one with the nodes still
// inside the subflow, deploys and runs; "Import to new flow" undoes in one
// step; pasting it gives the subflow a new id that the instance and the
// nodes follow; exporting an instance takes its subflow along under either
// names (Node-RED's by default). A deploy with warnings says so and lists
// them. The function node's form opens on "On Message", a new switch node
// has one == rule, and a number field that cannot be read says so.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { dragFromPalette, launch, newPage, nodeEl, openEditor, publish, shot, startServer, subscribe, until } from './helpers.mjs'

let browser, a
before(async () => {
  browser = await launch()
  a = await startServer()
})
after(async () => {
  await browser?.close()
  await a?.stop()
})

/** A Node-RED selection export: a subflow, its node, and an instance between mqtt in and out (no tab). */
function clip(p, topic) {
  const sf = p + '00a0', fn = p + '00a1', inst = p + '0003'
  return {
    sf, fn, inst,
    objs: [
      { id: sf, type: 'subflow', name: 'Shout ' + p.slice(-2), info: '', category: '', in: [{ x: 60, y: 80, wires: [{ id: fn }] }], out: [{ x: 420, y: 80, wires: [{ id: fn, port: 0 }] }], env: [], meta: {}, color: '#DDAA99' },
      { id: fn, type: 'function', z: sf, name: 'upper', func: 'msg.payload = String(msg.payload).toUpperCase()\nreturn msg;', outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [], x: 240, y: 80, wires: [[]] },
      { id: p + '0002', type: 'mqtt in', z: '0123012301230123', name: '', topic: topic + '/in', qos: '1', datatype: 'utf8', broker: '', nl: false, rap: true, rh: 0, inputs: 0, x: 120, y: 100, wires: [[inst]] },
      { id: inst, type: 'subflow:' + sf, z: '0123012301230123', name: '', x: 300, y: 100, wires: [[p + '0004']] },
      { id: p + '0004', type: 'mqtt out', z: '0123012301230123', name: '', topic: topic + '/out', qos: '', retain: '', broker: '', x: 480, y: 100, wires: [] },
    ],
  }
}

async function importText(page, text, into = 'current') {
  await page.keyboard.press('Control+i')
  const dlg = page.getByRole('dialog', { name: 'Import nodes' })
  await dlg.locator('#import-text').fill(text)
  await dlg.locator(`input[name="into"]`).nth(into === 'new' ? 1 : 0).check()
  await dlg.getByTestId('import-confirm').click()
  await dlg.waitFor({ state: 'detached' })
}

/** The export dialog's text for scope under the given names (undefined: the dialog's default). */
async function exported(page, scope, names) {
  await page.keyboard.press('Control+e')
  const dlg = page.getByRole('dialog', { name: 'Export nodes' })
  await dlg.locator(`input[name="scope"][value="${scope}"]`).check()
  if (names) await dlg.locator(`input[name="names"][value="${names}"]`).check()
  const text = await dlg.getByTestId('export-text').inputValue()
  await page.keyboard.press('Escape')
  await dlg.waitFor({ state: 'detached' })
  return JSON.parse(text)
}

async function roundTrip(topicIn, topicOut, payload) {
  const sub = await subscribe(a.mqttPort, topicOut)
  try {
    await publish(a.mqttPort, topicIn, payload)
    return (await sub.waitFor(1))[0]
  } finally {
    sub.stop()
  }
}

const ids = (doc) => doc.map((o) => o.id)

test('a subflow imports into the current flow and a new one with its nodes inside it, runs, and a new-flow import undoes in one step', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  const c = clip('6a6a6a6a6a6a', 'qa1')
  const tabs0 = await page.locator('.rn-tab').allTextContents()
  await importText(page, JSON.stringify(c.objs))
  // The tabs are as they were: the nodes joined the current flow.
  assert.deepEqual(await page.locator('.rn-tab').allTextContents(), tabs0)
  const all = await exported(page, 'all', 'runnel')
  const byId = new Map(all.map((o) => [o.id, o]))
  const tab = byId.get(c.inst).z
  assert.equal(byId.get(tab).type, 'tab')
  assert.equal(byId.get(c.fn).z, c.sf, 'the function stays in the subflow')
  assert.equal(byId.get(c.fn).x, 240)
  assert.equal(byId.get(c.inst).type, 'subflow:' + c.sf)
  assert.equal(await nodeEl(page, c.inst).locator('.rn-node').getAttribute('data-type'), 'subflow:' + c.sf)
  assert.equal(await nodeEl(page, c.inst).locator('.rn-node.unknown').count(), 0)
  assert.equal(await nodeEl(page, c.fn).count(), 0, 'the subflow node is not drawn on the tab')

  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).last().waitFor()
  const running = (await a.flows()).flows
  assert.equal(running.find((o) => o.id === c.fn).z, c.sf)
  assert.equal(await roundTrip('qa1/in', 'qa1/out', 'hey'), 'qa1/out HEY')

  // The same text to a new flow: its ids are taken, so all are new, and the
  // instance, the subflow's nodes and its ports follow the new subflow id.
  const before = await exported(page, 'all', 'runnel')
  await importText(page, JSON.stringify(c.objs), 'new')
  const tabs1 = await page.locator('.rn-tab').allTextContents()
  assert.equal(tabs1.length, tabs0.length + 1)
  assert.equal(await page.locator('.rn-tab.active').textContent(), tabs1.at(-1))
  const doc = await exported(page, 'all', 'runnel')
  const added = doc.filter((o) => !before.some((b) => b.id === o.id))
  const def = added.find((o) => o.type === 'subflow')
  const newTab = added.find((o) => o.type === 'tab')
  assert.ok(def && def.id !== c.sf && newTab)
  const inner = added.filter((o) => o.z === def.id)
  assert.deepEqual(inner.map((o) => o.name), ['upper'])
  assert.deepEqual(def.in[0].wires, [{ id: inner[0].id }])
  assert.deepEqual(def.out[0].wires, [{ id: inner[0].id, port: 0 }])
  assert.deepEqual(added.filter((o) => o.z === newTab.id).map((o) => o.type), ['mqtt-in', 'subflow:' + def.id, 'mqtt-out'])
  await shot(page, 'qa-01-import-new-flow')

  // One Ctrl+Z takes the whole import away, its new tab too.
  await page.locator('.rn-canvas').click({ position: { x: 600, y: 500 } })
  await page.keyboard.press('Control+z')
  await until(3000, 'the new tab to go', async () => (await page.locator('.rn-tab').count()) === tabs0.length)
  assert.deepEqual(ids(await exported(page, 'all', 'runnel')), ids(before))
  assert.deepEqual(errors, [])
})

test('pasting a subflow with Ctrl+V gives it a new id that its instance and nodes follow; an export of an instance takes its subflow', async () => {
  const { page, context, errors } = await newPage(browser)
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: a.url.replace(/\/$/, '') })
  await openEditor(page, a.url)
  const c = clip('6b6b6b6b6b6b', 'qa2')
  const before = new Set(ids(await exported(page, 'all', 'runnel')))
  await page.evaluate((t) => navigator.clipboard.writeText(t), JSON.stringify(c.objs))
  await page.mouse.move(500, 450)
  await page.keyboard.press('Control+v')
  await until(3000, 'the pasted nodes', async () => (await page.locator('.react-flow__node.selected').count()) === 3)
  const doc = await exported(page, 'all', 'node-red')
  const added = doc.filter((o) => !before.has(o.id))
  const def = added.find((o) => o.type === 'subflow')
  assert.ok(def, 'the subflow is pasted')
  assert.notEqual(def.id, c.sf)
  assert.ok(!added.some((o) => Object.values(c).includes(o.id)), 'every pasted object has a new id')
  const inst = added.find((o) => o.type.startsWith('subflow:'))
  assert.equal(inst.type, 'subflow:' + def.id)
  const inner = added.filter((o) => o.z === def.id)
  assert.deepEqual(inner.map((o) => o.type), ['function'])
  assert.deepEqual(def.in[0].wires, [{ id: inner[0].id }])
  // Node-RED's names in this export: the mqtt nodes are "mqtt in"/"mqtt out".
  assert.deepEqual(added.filter((o) => o.z === inst.z).map((o) => o.type), ['mqtt in', 'subflow:' + def.id, 'mqtt out'])
  const node = nodeEl(page, inst.id)
  assert.equal(await node.locator('.rn-node.unknown').count(), 0)
  assert.equal(await node.locator('.rn-label').textContent(), def.name)
  await shot(page, 'qa-02-pasted-subflow')

  // Export the instance alone, and the flow, under both names: the
  // definition and its node go along, before the instance.
  await page.keyboard.press('Escape')
  await node.click()
  await page.keyboard.press('Control+e')
  const dlg = page.getByRole('dialog', { name: 'Export nodes' })
  assert.equal(await dlg.locator('input[name="names"][value="node-red"]').isChecked(), true, "Node-RED's names by default")
  await page.keyboard.press('Escape')
  for (const names of ['node-red', 'runnel']) {
    const sel = await exported(page, 'selected', names)
    assert.deepEqual(ids(sel), [def.id, inner[0].id, inst.id], names)
    assert.equal(sel[1].z, def.id)
    assert.equal(sel[2].type, 'subflow:' + def.id)
    const flow = await exported(page, 'flow', names)
    assert.ok(ids(flow).includes(def.id) && ids(flow).includes(inner[0].id), names)
    assert.ok(ids(flow).indexOf(def.id) < ids(flow).indexOf(inst.id))
  }

  // It deploys and runs (qa2's topics are its own).
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).last().waitFor()
  assert.equal(await roundTrip('qa2/in', 'qa2/out', 'paste'), 'qa2/out PASTE')
  assert.deepEqual(errors, [])
})

test('a deploy that succeeds with warnings lists them, each leading to its node', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  const c = clip('6c6c6c6c6c6c', 'qa3')
  // The subflow's input is wired to a node that is not in it.
  c.objs[0].in[0].wires.push({ id: 'ffffffffffff0000' })
  await importText(page, JSON.stringify(c.objs))
  await page.getByTestId('deploy').click()
  const notice = page.getByTestId('notice-info').filter({ hasText: 'Deployed with 1 warning' })
  await notice.waitFor()
  assert.equal(await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).count(), 0)
  const items = notice.locator('li')
  assert.equal(await items.count(), 1)
  assert.match(await items.textContent(), /in: the subflow's input is wired to "ffffffffffff0000", which is not in it: the wire is dropped/)
  await shot(page, 'qa-03-deploy-warnings')
  // The flow runs all the same, and the link selects the instance.
  assert.equal(await roundTrip('qa3/in', 'qa3/out', 'w'), 'qa3/out W')
  await page.keyboard.press('Escape')
  await items.locator('a').click()
  await until(3000, 'the instance selected', async () => (await page.locator('.react-flow__node.selected').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))).join() === c.inst)
  // The notice stays until closed, or until the next deploy.
  await nodeEl(page, c.inst).dblclick()
  const tray = page.getByTestId('tray')
  await tray.locator('#node-input-name').fill('renamed')
  await tray.getByRole('button', { name: 'Done' }).click()
  await page.getByTestId('deploy').click()
  await until(5000, 'the new notice', async () => (await page.getByTestId('notice-info').filter({ hasText: 'Deployed with 1 warning' }).count()) === 1)
  // Without the instance there is nothing to warn about: a plain success, and the list goes.
  await nodeEl(page, c.inst).click()
  await page.keyboard.press('Delete')
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).last().waitFor()
  assert.equal(await page.getByTestId('notice-info').filter({ hasText: 'Deployed with' }).count(), 0)
  assert.deepEqual(errors, [])
})

test("Node-RED's defaults: function opens on On Message, switch has one == rule, an unreadable number is marked", async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  const nodeIds = async () => page.locator('.rn-node').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))
  const add = async (type, x, y) => {
    const had = new Set(await nodeIds())
    await dragFromPalette(page, type, x, y)
    const [id] = (await nodeIds()).filter((i) => !had.has(i))
    assert.ok(id, 'a new ' + type)
    return id
  }
  const sw = await add('switch', 400, 250)
  const sel = (await exported(page, 'all', 'node-red')).find((o) => o.id === sw)
  assert.deepEqual(sel.rules, [{ t: 'eq', v: '', vt: 'str' }])
  assert.equal(await nodeEl(page, sw).locator('.react-flow__handle.source').count(), 1)
  await nodeEl(page, sw).dblclick()
  const tray = page.getByTestId('tray')
  await tray.waitFor()
  assert.equal(await tray.locator('.rn-row[data-field="rules"] select').first().inputValue(), 'eq')
  await tray.getByRole('button', { name: 'Cancel' }).click()
  await tray.waitFor({ state: 'detached' })

  const fn = await add('function', 400, 400)
  await nodeEl(page, fn).dblclick()
  await tray.waitFor()
  assert.equal(await tray.getByRole('tab', { name: 'On Message', exact: true }).getAttribute('aria-selected'), 'true')
  await tray.locator('#node-input-func').waitFor()
  await tray.getByRole('tab', { name: 'Setup', exact: true }).click()
  const outputs = tray.locator('#node-input-outputs')
  const row = tray.locator('.rn-row[data-field="outputs"]')
  for (const [text, why] of [['1e309', /not a finite number/], ['12abc', /not a number/]]) {
    await outputs.fill(text)
    assert.equal(await outputs.inputValue(), text, 'the text stays')
    // Marked at once, then with the server's word for it (what a deploy would say), once.
    assert.match(await row.locator('.rn-field-error').first().textContent(), new RegExp(why.source + '|is not a whole number'))
    assert.equal(await outputs.getAttribute('aria-invalid'), 'true')
    await until(5000, "the server's problem", async () => (await row.locator('.rn-field-error').allTextContents()).join() === `"${text}" is not a whole number`)
  }
  await shot(page, 'qa-04-number-problem')
  await outputs.fill('2')
  await until(5000, 'the problem to go', async () => (await row.locator('.rn-field-error').count()) === 0)
  await tray.getByRole('button', { name: 'Done' }).click()
  await tray.waitFor({ state: 'detached' })
  await until(3000, 'two outputs', async () => (await nodeEl(page, fn).locator('.react-flow__handle.source').count()) === 2)
  assert.deepEqual(errors, [])
})

test("link nodes' targets are picked from a list by flow, both sides kept in step, and the link runs", async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, a.url)
  const [ta, tb, lo, ain, bin, bin2, call, mi, mo] = ['7a01', '7a02', '7a10', '7a11', '7a21', '7a22', '7a12', '7a13', '7a23'].map((s) => '7a7a7a7a7a7a' + s)
  await importText(page, JSON.stringify([
    { id: ta, type: 'tab', label: 'Links A', disabled: false, info: '' },
    { id: tb, type: 'tab', label: 'Links B', disabled: false, info: '' },
    { id: mi, type: 'mqtt in', z: ta, name: '', topic: 'qa5/in', qos: '1', datatype: 'utf8', broker: '', nl: false, rap: true, rh: 0, inputs: 0, x: 120, y: 80, wires: [[lo]] },
    { id: lo, type: 'link out', z: ta, name: 'to B', mode: 'link', links: [], x: 300, y: 80, wires: [] },
    { id: ain, type: 'link in', z: ta, name: 'A in', links: [], x: 120, y: 200, wires: [[]] },
    { id: call, type: 'link call', z: ta, name: '', links: [], linkType: 'static', timeout: '30', x: 300, y: 200, wires: [[]] },
    { id: bin, type: 'link in', z: tb, name: 'B in', links: [], x: 120, y: 80, wires: [[mo]] },
    { id: bin2, type: 'link in', z: tb, name: '', links: [], x: 120, y: 200, wires: [[]] },
    { id: mo, type: 'mqtt out', z: tb, name: '', topic: 'qa5/out', qos: '', retain: '', broker: '', x: 320, y: 80, wires: [] },
  ]))
  await page.locator('.rn-tab', { hasText: 'Links A' }).click()
  const tray = page.getByTestId('tray')
  const picker = tray.getByTestId('link-picker')
  const open = async (id) => {
    await nodeEl(page, id).dblclick()
    await picker.waitFor()
  }
  const done = async () => {
    await tray.getByRole('button', { name: 'Done' }).click()
    await tray.waitFor({ state: 'detached' })
  }
  const links = async () => {
    const doc = new Map((await exported(page, 'all', 'node-red')).map((o) => [o.id, o.links]))
    return { lo: doc.get(lo), ain: doc.get(ain), bin: doc.get(bin), bin2: doc.get(bin2), call: doc.get(call) }
  }

  // The link out's form lists the link in nodes of every flow, by name or id.
  await open(lo)
  assert.deepEqual(await picker.locator('legend').allTextContents(), ['Links A', 'Links B'])
  assert.deepEqual((await picker.locator('.rn-links-node').allTextContents()).map((s) => s.trim()), ['A in', 'B in', bin2])
  assert.equal(await picker.locator('input[type="checkbox"]:checked').count(), 0)
  await picker.locator(`.rn-links-node[data-id="${bin}"] input`).check()
  await shot(page, 'qa-05-link-picker')
  await done()
  assert.deepEqual(await links(), { lo: [bin], ain: [], bin: [lo], bin2: [], call: [] })

  // Unchecked and another checked: the link in nodes follow.
  await open(lo)
  await picker.locator(`.rn-links-node[data-id="${bin}"] input`).uncheck()
  await picker.locator(`.rn-links-node[data-id="${ain}"] input`).check()
  await picker.locator(`.rn-links-node[data-id="${bin2}"] input`).check()
  await done()
  assert.deepEqual(await links(), { lo: [ain, bin2], ain: [lo], bin: [], bin2: [lo], call: [] })

  // From the link in's side: it lists link out nodes, and the link out follows.
  await open(ain)
  assert.deepEqual((await picker.locator('.rn-links-node').allTextContents()).map((s) => s.trim()), ['to B'])
  await picker.locator(`.rn-links-node[data-id="${lo}"] input`).uncheck()
  await done()
  assert.deepEqual(await links(), { lo: [bin2], ain: [], bin: [], bin2: [lo], call: [] })
  await page.keyboard.press('Control+z')
  assert.deepEqual(await links(), { lo: [ain, bin2], ain: [lo], bin: [], bin2: [lo], call: [] }, 'one undo takes both sides back')
  // On the canvas, a dashed line joins linked nodes on the same tab (only those).
  await until(3000, 'the dashed link line', async () => (await page.locator('.rn-link-lines path').evaluateAll((ps) => ps.map((p) => p.getAttribute('data-link')))).join() === `${lo}>${ain}`)
  assert.equal(await page.locator('.rn-link-lines path').getAttribute('stroke-dasharray'), '5 5')
  await shot(page, 'qa-06-link-lines')

  // link call picks one, or none with a dynamic target (msg.target).
  await open(call)
  assert.equal(await picker.locator('input[type="radio"]').count(), 3)
  await picker.locator(`.rn-links-node[data-id="${ain}"] input`).check()
  await picker.locator(`.rn-links-node[data-id="${bin}"] input`).check()
  await tray.locator('#node-input-linkType').selectOption('dynamic')
  await picker.waitFor({ state: 'detached' })
  await tray.locator('#node-input-linkType').selectOption('static')
  await done()
  assert.deepEqual((await links()).call, [bin])

  // Sent through the link: mqtt in → link out → (Links B) link in → mqtt out.
  await open(lo)
  await picker.locator(`.rn-links-node[data-id="${bin}"] input`).check()
  await done()
  assert.deepEqual((await links()).bin, [lo])
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).last().waitFor()
  assert.equal(await roundTrip('qa5/in', 'qa5/out', 'linked'), 'qa5/out linked')

  // Links to another flow: a dashed stub out of the node with their count, as Node-RED draws it;
  // one link jumps to its node, several are listed with their flow first.
  const stub = (id) => page.locator(`.rn-link-stubs [data-stub="${id}"]`)
  await until(3000, 'the stubs of lo and the link call', async () => (await stub(lo).count()) === 1 && (await stub(call).count()) === 1)
  assert.equal(await page.locator('.rn-link-stubs [data-stub]').count(), 2, 'the link in on this flow has no stub')
  assert.equal(await stub(lo).locator('text').textContent(), '2')
  assert.equal(await stub(lo).getAttribute('data-side'), 'out')
  assert.equal(await stub(lo).locator('path').getAttribute('stroke-dasharray'), '5 5')
  await shot(page, 'qa-06b-link-stubs')
  await stub(lo).locator('.rn-link-stub-box').click()
  const stubMenu = page.locator('.rn-link-stub-menu')
  assert.deepEqual(await stubMenu.locator('button').allTextContents(), ['Links B: link in', 'Links B: B in'])
  await shot(page, 'qa-06c-link-stub-menu')
  await stubMenu.locator(`button[data-id="${bin}"]`).click()
  await until(3000, 'Links B open with B in selected', async () => (await page.locator('.rn-tab.active').textContent()) === 'Links B' &&
    JSON.stringify(await page.locator('.react-flow__node.selected').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))) === JSON.stringify([bin]))
  // On Links B the link in nodes show where they are reached from: B in from lo and the link call.
  await until(3000, 'the stubs on Links B', async () => (await stub(bin).count()) === 1 && (await stub(bin2).count()) === 1)
  assert.equal(await stub(bin).getAttribute('data-side'), 'in')
  assert.equal(await stub(bin).locator('text').textContent(), '2')
  await stub(bin2).locator('.rn-link-stub-box').click()
  await until(3000, 'back on Links A with lo selected', async () => (await page.locator('.rn-tab.active').textContent()) === 'Links A' &&
    JSON.stringify(await page.locator('.react-flow__node.selected').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))) === JSON.stringify([lo]))

  // A link in deleted leaves the link out's links, as in Node-RED.
  await page.locator('.rn-tab', { hasText: 'Links B' }).click()
  await nodeEl(page, bin2).click()
  await page.keyboard.press('Delete')
  await until(3000, 'the node gone', async () => (await nodeEl(page, bin2).count()) === 0)
  assert.deepEqual((await links()).lo, [ain, bin])
  assert.deepEqual(errors, [])
})

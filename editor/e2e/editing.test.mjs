// Editing as a Node-RED user does it: select, copy and paste across tabs and
// from the clipboard (Node-RED JSON too), undo and redo, delete, duplicate,
// move, box select, tabs, config nodes shared through their own panel, the
// info sidebar and the palette filter, all from mouse and keyboard.
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

const ids = (page) => page.locator('.react-flow__node').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))
const count = (page, sel) => page.locator(sel).count()

test('select, copy, paste across tabs, undo, redo, delete, duplicate, move', async () => {
  const { page, context, errors } = await newPage(browser)
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url.replace(/\/$/, '') })
  await openEditor(page, server.url)
  const original = await ids(page)
  assert.equal(original.length, 5)

  // Ctrl+A, Ctrl+C; a new tab; Ctrl+V with the mouse over the canvas.
  await page.locator('.react-flow__pane').click({ position: { x: 40, y: 40 } })
  await page.keyboard.press('Control+a')
  assert.equal(await count(page, '.react-flow__node.selected'), 5)
  await page.keyboard.press('Control+c')
  const clip = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()))
  assert.deepEqual(clip.map((o) => o.id), original)
  await page.getByRole('button', { name: 'Add flow' }).click()
  assert.equal(await page.locator('.rn-tab.active').textContent(), 'Flow 1')
  assert.equal(await count(page, '.react-flow__node'), 0)
  await page.mouse.move(400, 300)
  await page.keyboard.press('Control+v')
  // Fit the view (Ctrl+0): only nodes on screen are in the page.
  await page.waitForTimeout(100)
  await page.keyboard.press('Control+0')
  await until(3000, 'the pasted nodes', async () => (await count(page, '.react-flow__node')) === 5)
  assert.equal(await count(page, '.react-flow__edge'), 4)
  const pasted = await ids(page)
  assert.equal(pasted.filter((id) => original.includes(id)).length, 0, 'pasted nodes get new ids')
  assert.equal(await count(page, '.react-flow__node.selected'), 5, 'the pasted nodes are selected')
  await shot(page, '15-pasted')

  // Undo the paste, redo it.
  await page.keyboard.press('Control+z')
  assert.equal(await count(page, '.react-flow__node'), 0)
  await page.keyboard.press('Control+y')
  assert.equal(await count(page, '.react-flow__node'), 5)

  // Delete the middle node: its two wires go too. Undo brings all back.
  const mid = nodeEl(page, pasted[2])
  await mid.click()
  assert.equal(await count(page, '.react-flow__node.selected'), 1)
  await page.keyboard.press('Delete')
  assert.equal(await count(page, '.react-flow__node'), 4)
  assert.equal(await count(page, '.react-flow__edge'), 2)
  await page.keyboard.press('Control+z')
  assert.equal(await count(page, '.react-flow__node'), 5)
  assert.equal(await count(page, '.react-flow__edge'), 4)

  // Click a wire and delete it.
  await page.locator('.react-flow__edge').first().click({ force: true })
  assert.equal(await count(page, '.react-flow__edge.selected'), 1)
  await page.keyboard.press('Delete')
  assert.equal(await count(page, '.react-flow__edge'), 3)
  await page.keyboard.press('Control+z')

  // Duplicate (Ctrl+Shift+D) one node: a copy 40 px away.
  await mid.click()
  await page.keyboard.press('Control+Shift+D')
  assert.equal(await count(page, '.react-flow__node'), 6)
  // The copy is selected; cut it (Ctrl+X) and paste it back (Ctrl+V).
  const dup = (await ids(page)).find((id) => !pasted.includes(id))
  assert.deepEqual(await page.locator('.react-flow__node.selected').evaluateAll((els) => els.map((e) => e.getAttribute('data-id'))), [dup])
  await page.keyboard.press('Control+x')
  assert.equal(await count(page, '.react-flow__node'), 5)
  assert.equal(JSON.parse(await page.evaluate(() => navigator.clipboard.readText()))[0].id, dup)
  await page.mouse.move(250, 700) // it is pasted at the mouse: somewhere empty
  await page.keyboard.press('Control+v')
  await until(3000, 'the cut node pasted', async () => (await count(page, '.react-flow__node')) === 6)

  // Move a node by dragging it; undo puts it back.
  const before = await mid.boundingBox()
  await page.mouse.move(before.x + before.width / 2, before.y + before.height / 2)
  await page.mouse.down()
  await page.mouse.move(before.x + before.width / 2 + 60, before.y + before.height / 2 + 100, { steps: 8 })
  await page.mouse.up()
  const moved = await mid.boundingBox()
  assert.ok(Math.abs(moved.y - before.y) > 60, 'the node moved')
  await page.keyboard.press('Control+z')
  const back = await mid.boundingBox()
  assert.ok(Math.abs(back.y - before.y) < 1 && Math.abs(back.x - before.x) < 1, 'undo moved it back')

  // Arrow keys move the selection; Escape clears it.
  await mid.click()
  await page.keyboard.press('Shift+ArrowDown')
  assert.ok(Math.abs((await mid.boundingBox()).y - before.y) > 10)
  await page.keyboard.press('Escape')
  assert.equal(await count(page, '.react-flow__node.selected'), 0)

  // Box select: drag on the empty canvas around the first two pasted nodes.
  const a = await nodeEl(page, pasted[0]).boundingBox()
  const b = await nodeEl(page, pasted[1]).boundingBox()
  await page.mouse.move(a.x - 25, Math.min(a.y, b.y) - 25)
  await page.mouse.down()
  await page.mouse.move(b.x + b.width + 5, Math.max(a.y + a.height, b.y + b.height) + 20, { steps: 6 })
  await page.mouse.up()
  assert.deepEqual((await page.locator('.react-flow__node.selected').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))).sort(), [pasted[0], pasted[1]].sort())

  // Paste Node-RED JSON copied from elsewhere: "rbe" becomes filter-on-change.
  await page.evaluate(() => navigator.clipboard.writeText(JSON.stringify([{ id: 'ext1', type: 'rbe', z: 'elsewhere', name: 'from NR', func: 'rbe', property: 'payload', x: 10, y: 10, wires: [[]] }])))
  await page.mouse.move(300, 600)
  await page.keyboard.press('Control+v')
  await until(3000, 'the node from the clipboard', async () => (await count(page, '.rn-node[data-type="filter-on-change"]')) >= 2)
  assert.equal(await page.locator('.rn-node', { hasText: 'from NR' }).getAttribute('data-type'), 'filter-on-change')

  // Deploy puts it all on the server.
  await page.keyboard.press('Control+d')
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  const flows = (await server.flows()).flows
  const tab = flows.find((o) => o.type === 'tab' && o.label === 'Flow 1')
  assert.equal(flows.filter((o) => o.z === tab.id).length, 7)
  assert.deepEqual(errors, [])
})

test('tabs: rename, disable, remove; config nodes shared through their panel; info and palette', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)

  // Rename and disable the example's tab.
  await page.locator('.rn-tab', { hasText: 'Sensor alerts' }).dblclick()
  const dlg = page.getByRole('dialog', { name: 'Edit flow' })
  await dlg.locator('#tab-label').fill('Sensors (off)')
  await dlg.locator('#tab-enabled').uncheck()
  await dlg.getByRole('button', { name: 'Done' }).click()
  const tabEl = page.locator('.rn-tab', { hasText: 'Sensors (off)' })
  assert.equal(await tabEl.evaluate((el) => el.classList.contains('disabled')), true)
  await page.getByText('This flow is disabled').waitFor()

  // A new mqtt in on a new tab, with a new mqtt-broker config node made from its Server field.
  await page.getByRole('button', { name: 'Add flow' }).click()
  await dragFromPalette(page, 'mqtt-in', 400, 300)
  const id = await page.locator('.rn-node[data-type="mqtt-in"]').getAttribute('data-id')
  await nodeEl(page, id).dblclick()
  const tray = page.getByTestId('tray')
  await tray.locator('#node-input-topic').fill('cfg/test')
  await tray.locator('#node-input-broker').selectOption('__new__')
  await page.getByRole('dialog', { name: 'Add new MQTT broker config node' }).waitFor()
  await page.locator('#node-config-input-name').fill('home broker')
  await page.locator('#node-config-input-broker').fill('127.0.0.1')
  await page.locator('#node-config-input-port').fill(String(server.mqttPort))
  await shot(page, '16-config-tray')
  await page.getByTestId('tray').getByRole('button', { name: 'Add', exact: true }).click()
  // Back in the mqtt in's tray, the new broker is chosen.
  const brokerSel = page.locator('#node-input-broker')
  await until(3000, 'the new broker chosen', async () => (await brokerSel.inputValue()) !== '')
  assert.equal(await brokerSel.locator('option:checked').textContent(), 'home broker')
  await page.getByTestId('tray').getByRole('button', { name: 'Done' }).click()

  // The config nodes panel lists it, used once; a second node can share it.
  await page.locator('[data-sidebar="config"]').click()
  const cfg = page.locator('.rn-config-node', { hasText: 'home broker' })
  assert.equal(await cfg.locator('.rn-config-uses').textContent(), '1')
  await dragFromPalette(page, 'mqtt-out', 600, 300)
  const out = await page.locator('.rn-node[data-type="mqtt-out"]').getAttribute('data-id')
  await nodeEl(page, out).dblclick()
  await page.locator('#node-input-broker').selectOption({ label: 'home broker' })
  await page.locator('#node-input-topic').fill('cfg/out')
  await page.getByTestId('tray').getByRole('button', { name: 'Done' }).click()
  assert.equal(await cfg.locator('.rn-config-uses').textContent(), '2')

  await page.keyboard.press('Control+d')
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  const flows = (await server.flows()).flows
  const broker = flows.find((o) => o.type === 'mqtt-broker')
  assert.equal(broker.name, 'home broker')
  assert.equal(broker.port, String(server.mqttPort))
  assert.equal(flows.find((o) => o.id === id).broker, broker.id)
  assert.equal(flows.find((o) => o.id === out).broker, broker.id)
  const off = flows.find((o) => o.type === 'tab' && o.label === 'Sensors (off)')
  assert.equal(off.disabled, true)

  // Info sidebar: the selected node's help, from its Go metadata.
  await nodeEl(page, id).click()
  await page.locator('[data-sidebar="info"]').click()
  const help = (await (await fetch(server.url + 'nodes')).json()).find((t) => t.type === 'mqtt-in').help
  assert.match(await page.getByTestId('info').textContent(), new RegExp(help.split('\n')[0].slice(0, 40).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
  await shot(page, '17-info')

  // Palette filter.
  await page.getByLabel('Filter nodes').fill('mqtt')
  assert.deepEqual(await page.locator('.rn-palette-node').evaluateAll((els) => els.map((e) => e.getAttribute('data-type'))), ['mqtt-in', 'mqtt-out'])
  await page.getByLabel('Filter nodes').fill('rbe')
  assert.deepEqual(await page.locator('.rn-palette-node').evaluateAll((els) => els.map((e) => e.getAttribute('data-type'))), ['filter-on-change'])
  await page.getByLabel('Filter nodes').fill('')

  // Remove the disabled tab; undo brings it back with its nodes.
  await tabEl.dblclick()
  await page.getByRole('dialog', { name: 'Edit flow' }).getByRole('button', { name: 'Delete' }).click()
  assert.equal(await page.locator('.rn-tab', { hasText: 'Sensors (off)' }).count(), 0)
  await page.keyboard.press('Control+z')
  await page.locator('.rn-tab', { hasText: 'Sensors (off)' }).click()
  assert.equal(await count(page, '.react-flow__node'), 5)
  // Layout at 1280x800: palette, canvas and sidebar side by side, nothing cut off.
  const vp = page.viewportSize()
  for (const sel of ['.rn-palette', '.rn-canvas', '.rn-sidebar', '.rn-header']) {
    const bb = await page.locator(sel).boundingBox()
    assert.ok(bb.x >= 0 && bb.y >= 0 && bb.x + bb.width <= vp.width + 0.5 && bb.y + bb.height <= vp.height + 0.5, `${sel} inside the window`)
  }
  assert.ok((await page.locator('.rn-canvas').boundingBox()).width >= 700)
  assert.deepEqual(errors, [])
})

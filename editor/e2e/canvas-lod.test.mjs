// The zoomed-out canvas (CanvasLOD.tsx): a flow of 300 nodes or more, below
// 50 % zoom, is drawn on one <canvas> and React Flow's node and wire elements
// are hidden; a click selects the node drawn under the pointer, a rubber band
// selects, a node or a selection drags, a double click opens the tray, a
// right click the menu, a node's inject button and debug switch work as the
// DOM's; zoomed back in, the DOM is back (once the zoom is
// still, if the zoom went on on the canvas). Screenshots go to
// editor/e2e/artifacts (lod-*.png).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { launch, newPage, nodeBox, openEditor, shot, sleep, startServer, until, zoomOf } from './helpers.mjs'

let browser, server
before(async () => {
  browser = await launch()
  server = await startServer()
})
after(async () => {
  await browser?.close()
  await server?.stop()
})

const kinds = ['inject', 'json', 'filter-on-change', 'template', 'json', 'template', 'filter-on-change', 'template', 'json', 'debug']

/** 40 wired chains of 10 nodes (400), the first three nodes of the first chain in a group, one node disabled. */
function flow() {
  const tab = 'lodtab'
  const objs = [{ id: tab, type: 'tab', label: 'Zoomed out', disabled: false, info: '' }]
  for (let r = 0; r < 40; r++) {
    for (let c = 0; c < 10; c++) {
      const type = kinds[c]
      const o = { id: `n${r}_${c}`, type, z: tab, name: `${type} ${r}.${c}`, x: 100 + c * 200, y: 60 + r * 60, wires: c < 9 ? [[`n${r}_${c + 1}`]] : [] }
      if (type === 'inject') Object.assign(o, { payload: '', payloadType: 'date', repeat: '', once: false })
      if (type === 'template') Object.assign(o, { template: '{{payload}}', field: 'payload', fieldType: 'msg', syntax: 'mustache', output: 'str' })
      if (type === 'filter-on-change') Object.assign(o, { func: 'rbe', property: 'payload', septopics: true })
      if (type === 'json') Object.assign(o, { property: 'payload', action: '' })
      if (type === 'debug') Object.assign(o, { active: true, tosidebar: true, complete: 'false' })
      if (r === 0 && c < 3) o.g = 'lodgrp'
      if (r === 5 && c === 5) o.d = true
      objs.push(o)
    }
  }
  objs.push({ id: 'lodgrp', type: 'group', z: tab, name: 'G', style: { label: true, fill: '#ffefbf' }, nodes: ['n0_0', 'n0_1', 'n0_2'], x: 20, y: 20, w: 560, h: 80 })
  return objs
}

const centre = (b) => [b.x + b.width / 2, b.y + b.height / 2]
const selectedIds = (page) => page.locator('.react-flow__node.selected').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')).sort())
const drawn = (page) => page.getByTestId('lod-canvas').evaluate((c) => c.drawn)

async function drag(page, x, y, dx, dy, steps = 8) {
  await page.mouse.move(x, y)
  await page.mouse.down()
  for (let i = 1; i <= steps; i++) {
    await page.mouse.move(x + (dx * i) / steps, y + (dy * i) / steps)
    await sleep(20)
  }
  await page.mouse.up()
}

test('a large flow zoomed out is drawn on a canvas, and its nodes select, drag and open as in the DOM', async () => {
  await server.deploy(flow())
  const { page, context, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('.rn-canvas.rn-lod').waitFor()
  // Every node and wire drawn; React Flow's elements there but not displayed; the group's box in the DOM.
  await until(3000, 'the canvas to draw', async () => (await drawn(page))?.nodes === 400)
  assert.deepEqual(await drawn(page), { nodes: 400, wires: 360 })
  assert.equal(await page.locator('.react-flow__node-flow').count(), 400)
  assert.equal(await page.locator('.react-flow__node-flow:visible').count(), 0)
  assert.equal(await page.locator('.react-flow__edge:visible').count(), 0)
  assert.equal(await page.locator('svg.rn-group:visible').count(), 1)
  const z = (await nodeBox(page, 'n0_0')).z
  assert.ok(z < 0.3, `zoom ${z}`)
  await shot(page, 'lod-01-fit')
  // A click on a drawn node selects it alone; a click on the empty canvas clears it.
  const a = await nodeBox(page, 'n3_4')
  await page.mouse.click(...centre(a))
  assert.deepEqual(await selectedIds(page), ['n3_4'])
  // Shift+click adds one.
  await page.keyboard.down('Shift')
  await page.mouse.click(...centre(await nodeBox(page, 'n3_6')))
  await page.keyboard.up('Shift')
  assert.deepEqual(await selectedIds(page), ['n3_4', 'n3_6'])
  await shot(page, 'lod-02-selected')
  const canvas = await page.locator('.rn-canvas').boundingBox()
  await page.mouse.click(canvas.x + canvas.width - 30, canvas.y + canvas.height - 30)
  assert.deepEqual(await selectedIds(page), [])

  // Dragging a node moves it (snapped to the grid) and nothing else.
  const b0 = await nodeBox(page, 'n7_2')
  await drag(page, ...centre(b0), 60, 30)
  await until(2000, 'the node to move', async () => (await nodeBox(page, 'n7_2')).fx !== b0.fx)
  const b1 = await nodeBox(page, 'n7_2')
  assert.ok(Math.abs(b1.fx - b0.fx - 60 / z) <= 20 && Math.abs(b1.fy - b0.fy - 30 / z) <= 20, `moved by ${b1.fx - b0.fx}, ${b1.fy - b0.fy}`)
  assert.equal((b1.fx - b0.fx) % 20, 0)
  assert.deepEqual(await selectedIds(page), ['n7_2'])
  assert.equal((await nodeBox(page, 'n7_3')).fx, (await nodeBox(page, 'n7_3')).fx)
  await shot(page, 'lod-03-dragged')

  // A rubber band from the empty canvas selects the nodes it touches: chains 10 to 12.
  const p = await nodeBox(page, 'n10_0'), q = await nodeBox(page, 'n12_9')
  await drag(page, p.x - 8, p.y - 3, q.x + q.width + 4 - (p.x - 8), q.y + q.height + 2 - (p.y - 3))
  const band = await selectedIds(page)
  assert.equal(band.length, 30, band.join(' '))
  assert.ok(band.every((id) => /^n1[012]_/.test(id)))
  // Dragged by one of them, all 30 move together.
  const before = await Promise.all(band.map((id) => nodeBox(page, id)))
  await drag(page, ...centre(await nodeBox(page, 'n11_5')), 0, 40)
  await until(2000, 'the selection to move', async () => (await nodeBox(page, 'n10_0')).fy !== before[0].fy)
  const after_ = await Promise.all(band.map((id) => nodeBox(page, id)))
  const dys = new Set(after_.map((b, i) => b.fy - before[i].fy))
  assert.equal(dys.size, 1, [...dys].join(' '))
  assert.ok(Math.abs([...dys][0] - 40 / z) <= 20, `moved down by ${[...dys][0]}`)
  assert.equal((await selectedIds(page)).length, 30)
  await shot(page, 'lod-04-selection-dragged')

  // A right click on a node selects it and opens the menu; a double click opens its tray.
  await page.mouse.click(...centre(await nodeBox(page, 'n20_5')), { button: 'right' })
  assert.deepEqual(await selectedIds(page), ['n20_5'])
  await page.getByRole('menu').waitFor()
  assert.equal(await page.getByRole('menuitem', { name: /Edit/ }).isEnabled(), true)
  await page.keyboard.press('Escape')
  await page.mouse.dblclick(...centre(await nodeBox(page, 'n20_5')))
  await page.getByTestId('tray').waitFor()
  await shot(page, 'lod-05-tray')
  await page.keyboard.press('Escape')
  await page.getByTestId('tray').waitFor({ state: 'detached' })

  // The keyboard works on what the canvas draws: Enter opens the selected node, arrows move it, Ctrl+A selects
  // everything, Delete removes it and Ctrl+Z brings it back.
  await page.keyboard.press('Enter')
  await page.getByTestId('tray').waitFor()
  await page.keyboard.press('Escape')
  await page.getByTestId('tray').waitFor({ state: 'detached' })
  const k0 = await nodeBox(page, 'n20_5')
  await page.keyboard.press('ArrowRight')
  await until(2000, 'the arrow to move the node', async () => (await nodeBox(page, 'n20_5')).fx > k0.fx)
  await page.keyboard.press('Control+a')
  await until(2000, 'everything selected', async () => (await page.locator('.react-flow__node-flow.selected').count()) === 400)
  await page.keyboard.press('Delete')
  // With no nodes left the tab is too small for the canvas.
  await page.getByTestId('lod-canvas').waitFor({ state: 'detached' })
  assert.equal(await page.locator('.react-flow__node-flow').count(), 0)
  await page.keyboard.press('Control+z')
  await until(2000, 'the canvas to draw them again', async () => (await drawn(page))?.nodes === 400)
  assert.equal((await drawn(page)).wires, 360)
  await shot(page, 'lod-09-undone')
  await page.keyboard.press('Escape')
  await page.mouse.click(canvas.x + canvas.width - 30, canvas.y + canvas.height - 30)

  // Between 30 % and 50 %, labels and ports are drawn too; past 50 %, once the zoom is still, the DOM is back.
  const c = centre(await nodeBox(page, 'n20_5'))
  await page.mouse.move(...c)
  await page.keyboard.down('Control')
  for (let i = 0; i < 20 && (await nodeBox(page, 'n20_5')).z < 0.38; i++) {
    await page.mouse.wheel(0, -20)
    await sleep(100)
  }
  const zl = (await nodeBox(page, 'n20_5')).z
  assert.ok(zl >= 0.3 && zl < 0.5, `zoom ${zl}`)
  await page.locator('.rn-canvas.rn-lod').waitFor()
  await shot(page, 'lod-07-labels')
  await page.keyboard.up('Control')
  // A zoom that goes on on the canvas stays there past 50 % (useZoomHold), and while a pointer is pressed (a drag
  // begun on the canvas ends on it): here a node pressed before the zoom and dragged after it. The DOM is back
  // once the zoom is still and the pointer up.
  const m0 = await nodeBox(page, 'n20_5')
  await page.mouse.move(...centre(m0))
  await page.mouse.down()
  await page.keyboard.down('Control')
  for (let i = 0; i < 20 && (await zoomOf(page)) < 0.9; i++) {
    await page.mouse.wheel(0, -40)
    await sleep(16)
  }
  await page.keyboard.up('Control')
  const zh = await zoomOf(page)
  assert.ok(zh >= 0.5, `zoom ${zh}`)
  assert.equal(await page.locator('.rn-canvas.rn-lod').count(), 1, 'the canvas draws while the zoom goes on')
  await shot(page, 'lod-07-mid-zoom')
  const p0 = centre(await nodeBox(page, 'n20_5'))
  for (let i = 1; i <= 10; i++) {
    await page.mouse.move(p0[0] + 8 * i, p0[1])
    await sleep(50)
  }
  assert.equal(await page.locator('.rn-canvas.rn-lod').count(), 1, 'the canvas stays while a drag begun on it goes on')
  await page.mouse.up()
  await page.getByTestId('lod-canvas').waitFor({ state: 'detached' })
  const m1 = await nodeBox(page, 'n20_5')
  assert.ok(m1.fx > m0.fx && m1.fy === m0.fy, `moved by ${m1.fx - m0.fx}, ${m1.fy - m0.fy}`)
  assert.ok((await page.locator('.react-flow__node[data-id="n20_5"]').boundingBox()).width > 20)
  await shot(page, 'lod-06-zoomed-in')
  assert.deepEqual(errors, [])
  await context.close()
})

test('on the canvas, an inject button injects and a debug switch turns the node off and on, as in the DOM', async () => {
  await server.deploy(flow())
  const { page, context, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('.rn-canvas.rn-lod').waitFor()
  await until(3000, 'the canvas to draw', async () => (await drawn(page))?.nodes === 400)
  // The buttons are drawn 22 px squares (flow units) beside the node: 4 to 26 left of an inject node, right of a debug node.
  // Nodes halfway down: the notices come at the top.
  const inj = await nodeBox(page, 'n20_0')
  const injAt = [inj.x - 15 * inj.z, inj.y + inj.height / 2]
  await page.mouse.click(...injAt)
  await page.getByTestId('notice-success').filter({ hasText: 'Injected: inject 20.0' }).waitFor()
  assert.deepEqual(await selectedIds(page), [], 'a click on the button does not select the node')
  const dbg = await nodeBox(page, 'n20_9')
  const dbgAt = [dbg.x + dbg.width + 15 * dbg.z, dbg.y + dbg.height / 2]
  const before = (await server.flows()).rev
  await page.mouse.click(...dbgAt)
  await page.getByText('Successfully deactivated: debug 20.9').waitFor()
  await shot(page, 'lod-10-debug-off')
  await page.mouse.click(...dbgAt)
  await page.getByText('Successfully activated: debug 20.9').waitFor()
  assert.deepEqual(await selectedIds(page), [])
  assert.equal((await server.flows()).rev, before, 'the switch deployed nothing')
  // Next to the buttons, the node is still the node's: a click there selects it.
  await page.mouse.click(...centre(inj))
  assert.deepEqual(await selectedIds(page), ['n20_0'])
  assert.deepEqual(errors, [])
  await context.close()
})

test('a small flow zoomed out stays in the DOM', async () => {
  const small = flow().filter((o) => o.type === 'tab' || /^n[0-2]_/.test(o.id) || o.id === 'lodgrp')
  await server.deploy(small)
  const { page, context, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.keyboard.press('Control+0')
  // Zoomed out under 30 % by Ctrl+wheel.
  await page.mouse.move(600, 400)
  await page.keyboard.down('Control')
  for (let i = 0; i < 12; i++) {
    await page.mouse.wheel(0, 100)
    await sleep(50)
  }
  await page.keyboard.up('Control')
  await page.locator('.rn-canvas.rn-detail-2').waitFor()
  assert.equal(await page.locator('.rn-canvas.rn-lod').count(), 0)
  assert.equal(await page.getByTestId('lod-canvas').count(), 0)
  assert.equal(await page.locator('.react-flow__node-flow:visible').count(), 30)
  assert.deepEqual(errors, [])
  await context.close()
})

test('on a tablet, a finger taps, drags and long-presses the nodes the canvas draws, and pans the empty canvas', async () => {
  await server.deploy(flow())
  const context = await browser.newContext({ hasTouch: true, isMobile: true, viewport: { width: 820, height: 1180 } })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const errors = []
  page.on('pageerror', (e) => errors.push(e))
  page.on('console', (m) => m.type() === 'error' && errors.push(new Error('console: ' + m.text())))
  const cdp = await context.newCDPSession(page)
  const send = (type, points) =>
    cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map(([x, y], id) => ({ x: Math.round(x), y: Math.round(y), id, radiusX: 4, radiusY: 4, force: 1 })) })
  const drag = async (from, to, steps = 10) => {
    await send('touchStart', [from])
    for (let i = 1; i <= steps; i++) {
      await send('touchMove', [[from[0] + ((to[0] - from[0]) * i) / steps, from[1] + ((to[1] - from[1]) * i) / steps]])
      await sleep(16)
    }
    await send('touchEnd', [])
  }
  await openEditor(page, server.url)
  await page.locator('.rn-canvas.rn-lod').waitFor()

  // A tap selects the node under the finger.
  await send('touchStart', [centre(await nodeBox(page, 'n4_4'))])
  await sleep(30)
  await send('touchEnd', [])
  await until(2000, 'the tap to select', async () => (await selectedIds(page)).join() === 'n4_4')

  // A finger dragged from a node moves it (and nothing pans).
  const vp = () => page.locator('.react-flow__viewport').evaluate((el) => el.style.transform)
  const v0 = await vp()
  const b0 = await nodeBox(page, 'n8_3')
  const from = centre(b0)
  await drag(from, [from[0], from[1] + 40])
  await until(2000, 'the node to move', async () => (await nodeBox(page, 'n8_3')).fy !== b0.fy)
  assert.ok(Math.abs((await nodeBox(page, 'n8_3')).fy - b0.fy - 40 / b0.z) <= 20)
  assert.equal(await vp(), v0)
  assert.deepEqual(await selectedIds(page), ['n8_3'])

  // A long press on a node selects it and opens the menu.
  const at = centre(await nodeBox(page, 'n30_7'))
  await send('touchStart', [at])
  await sleep(900)
  await send('touchEnd', [])
  await page.getByRole('menu').waitFor()
  assert.deepEqual(await selectedIds(page), ['n30_7'])
  await shot(page, 'lod-08-tablet-menu')
  await page.getByRole('menuitem', { name: /Edit/ }).click()
  await page.getByTestId('tray').waitFor()
  await page.keyboard.press('Escape')

  // One finger on the empty canvas pans it.
  const canvas = await page.locator('.rn-canvas').boundingBox()
  const empty = [canvas.x + canvas.width - 20, canvas.y + canvas.height - 60]
  const v1 = await vp()
  await drag(empty, [empty[0] - 100, empty[1] - 100])
  await until(2000, 'the canvas to pan', async () => (await vp()) !== v1)
  assert.deepEqual(errors, [])
  await context.close()
})

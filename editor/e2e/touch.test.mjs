// Building a flow on a tablet, with a finger only: Chromium with touch
// emulation (820x1180, a portrait tablet), real touch input through the
// DevTools protocol (Input.dispatchTouchEvent: touchStart, touchMove,
// touchEnd, as a touch screen sends them), no mouse and no keyboard.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { launch, nodeEl, openEditor, shot, sleep, startServer, until } from './helpers.mjs'

let browser, server
before(async () => {
  browser = await launch()
  server = await startServer()
})
after(async () => {
  await browser?.close()
  await server?.stop()
})

async function tablet() {
  const context = await browser.newContext({ hasTouch: true, isMobile: true, viewport: { width: 820, height: 1180 } })
  // A window this narrow starts with the sidebar collapsed (Layout.tsx) unless the user opened it: these tests
  // are a user who did, as they show debug messages in it and hide it from the menu.
  await context.addInitScript(() => {
    if (!localStorage.getItem('runnel.layout')) localStorage.setItem('runnel.layout', JSON.stringify({ sidebarOpen: true }))
  })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const errors = []
  page.on('pageerror', (e) => errors.push(e))
  page.on('console', (m) => m.type() === 'error' && errors.push(new Error('console: ' + m.text())))
  const cdp = await context.newCDPSession(page)
  const send = (type, points) =>
    cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map(([x, y], id) => ({ x: Math.round(x), y: Math.round(y), id, radiusX: 4, radiusY: 4, force: 1 })) })
  const finger = {
    /** One finger down at from, moved in steps to to; lifted unless lift is false; hold ms before moving. */
    async drag(from, to, { steps = 15, hold = 0, every = 16, lift = true } = {}) {
      await send('touchStart', [from])
      if (hold) await sleep(hold)
      for (let i = 1; i <= steps; i++) {
        await send('touchMove', [[from[0] + ((to[0] - from[0]) * i) / steps, from[1] + ((to[1] - from[1]) * i) / steps]])
        await sleep(every)
      }
      if (lift) await send('touchEnd', [])
    },
    lift: () => send('touchEnd', []),
    /** One finger resting ms at a point, moving by wander px 100 ms in. (Long presses here rest 900 ms for the 500 ms
     * the editor waits: a busy machine may run the editor's timer late.) */
    async press(at, ms, wander = 0) {
      await send('touchStart', [at])
      if (wander) {
        await sleep(100)
        await send('touchMove', [[at[0] + wander, at[1]]])
      }
      await sleep(wander ? ms - 100 : ms)
      await send('touchEnd', [])
    },
    async tap(at) {
      await send('touchStart', [at])
      await sleep(30)
      await send('touchEnd', [])
    },
    /** Two fingers around c, from d0 apart to d1 apart. */
    async pinch(c, d0, d1, steps = 12) {
      const at = (d) => [[c[0] - d / 2, c[1]], [c[0] + d / 2, c[1]]]
      await send('touchStart', at(d0))
      for (let i = 1; i <= steps; i++) {
        await send('touchMove', at(d0 + ((d1 - d0) * i) / steps))
        await sleep(16)
      }
      await send('touchEnd', [])
    },
  }
  return { page, context, errors, finger }
}

const centre = async (loc) => {
  const b = await loc.boundingBox()
  assert.ok(b, 'element on screen')
  return [b.x + b.width / 2, b.y + b.height / 2]
}
const tabNodes = (page) => page.locator('.react-flow__node').evaluateAll((els) => els.map((e) => ({ id: e.getAttribute('data-id'), type: e.querySelector('.rn-node')?.getAttribute('data-type') })))
const port = (page, id, handle) => page.locator(`.react-flow__node[data-id="${id}"] .react-flow__handle[data-handleid="${handle}"]`)
const viewport = (page) => page.locator('.react-flow__viewport').evaluate((el) => {
  const m = new DOMMatrix(getComputedStyle(el).transform)
  return { x: m.e, y: m.f, zoom: m.a }
})

/** A new, empty flow tab: the canvas at zoom 1 with the flow's origin at its top left. */
async function newTab(page, finger) {
  const before = await page.locator('.rn-tab').count()
  await finger.tap(await centre(page.getByRole('button', { name: 'Add flow' })))
  await until(3000, 'a new tab', async () => (await page.locator('.rn-tab').count()) === before + 1)
  await until(3000, 'an empty canvas', async () => (await page.locator('.react-flow__node').count()) === 0)
  return page.locator('.rn-tab.active').getAttribute('data-tab')
}

/** Drags a palette entry with a finger to a point of the screen; returns the new node's id. */
async function dragIn(page, finger, type, to) {
  const had = new Set((await tabNodes(page)).map((n) => n.id))
  const entry = page.locator(`.rn-palette-node[data-type="${type}"]`)
  await entry.scrollIntoViewIfNeeded()
  await finger.drag(await centre(entry), to)
  const added = await until(3000, `the ${type} node dropped`, async () => (await tabNodes(page)).filter((n) => !had.has(n.id)))
  assert.equal(added.length, 1)
  assert.equal(added[0].type, type)
  return added[0].id
}

test('a flow built with a finger: palette drags, a wire drawn, the long-press menu, deploy by tap', async () => {
  const { page, errors, finger } = await tablet()
  await openEditor(page, server.url)
  assert.ok(await page.evaluate(() => matchMedia('(pointer: coarse)').matches), 'the page sees a coarse pointer')
  const tab = await newTab(page, finger)
  const canvas = await page.locator('.rn-canvas').boundingBox()

  // HTML5 drag and drop never starts from a finger: the entry follows the finger as a ghost, 40 px above the
  // fingertip so that the finger does not hide it, and lands where the ghost is when the finger lets go.
  const injectAt = [canvas.x + 100, canvas.y + 200]
  const entry = page.locator('.rn-palette-node[data-type="inject"]')
  const ghosts = async () => page.locator('.rn-touch-ghost').count()
  await finger.drag(await centre(entry), injectAt, { steps: 20, lift: false })
  assert.equal(await ghosts(), 1)
  const [gx, gy] = await centre(page.locator('.rn-touch-ghost'))
  assert.ok(Math.abs(gx - injectAt[0]) <= 1 && Math.abs(gy - (injectAt[1] - 40)) <= 1, `ghost at ${gx},${gy}, finger at ${injectAt}`)
  assert.equal(await page.locator('.rn-canvas.rn-touch-over').count(), 1, 'the canvas is lit as the drop target')
  await shot(page, 'touch-1-ghost')
  await finger.lift()
  const added = await until(3000, 'the inject node', async () => (await tabNodes(page)).find((n) => n.type === 'inject'))
  assert.equal(await ghosts(), 0, 'the ghost is gone after the drop')
  assert.equal(await page.locator('.rn-canvas.rn-touch-over').count(), 0)
  const inject = added.id
  // Where the ghost was is where the node is (its centre, snapped to the 20 px grid, at zoom 1).
  const [ix, iy] = await centre(nodeEl(page, inject))
  assert.ok(Math.abs(ix - gx) <= 10 && Math.abs(iy - gy) <= 10, `inject at ${ix},${iy}, ghost at ${gx},${gy}`)

  const debugAt = [canvas.x + 190, canvas.y + 380]
  const debug = await dragIn(page, finger, 'debug', debugAt)
  const [dx, dy] = await centre(nodeEl(page, debug))
  assert.ok(Math.abs(dx - debugAt[0]) <= 10 && Math.abs(dy - (debugAt[1] - 40)) <= 10, `debug at ${dx},${dy}, finger let go at ${debugAt}`)
  assert.equal((await tabNodes(page)).length, 2)

  // Up or down, a finger scrolls the palette and picks nothing up ...
  const list = page.locator('.rn-palette-list')
  const sw = page.locator('.rn-palette-node[data-type="switch"]')
  await sw.scrollIntoViewIfNeeded()
  const swAt = await centre(sw)
  const top0 = await list.evaluate((el) => el.scrollTop)
  await finger.drag(swAt, [swAt[0], swAt[1] - 200], { steps: 10 })
  await until(3000, 'the palette scrolled', async () => (await list.evaluate((el) => el.scrollTop)) > top0 + 50)
  await sleep(200)
  assert.equal((await tabNodes(page)).length, 2, 'scrolling the palette adds nothing')
  assert.equal(await ghosts(), 0)
  // ... unless the finger rests on an entry first: then it is picked up whichever way it goes.
  const tpl = page.locator('.rn-palette-node[data-type="template"]')
  await tpl.scrollIntoViewIfNeeded()
  const tplAt = await centre(tpl)
  const tplTo = [canvas.x + 100, tplAt[1] + 160]
  await finger.drag(tplAt, [tplAt[0], tplTo[1]], { hold: 500, steps: 8 })
  assert.equal(await ghosts(), 0)
  assert.equal((await tabNodes(page)).length, 2, 'let go on the palette: nothing added')
  await finger.drag(tplAt, tplTo, { hold: 500, steps: 12 })
  const tplNode = await until(3000, 'the template node', async () => (await tabNodes(page)).find((n) => n.type === 'template'))
  const [tx, ty] = await centre(nodeEl(page, tplNode.id))
  assert.ok(Math.abs(tx - tplTo[0]) <= 10 && Math.abs(ty - (tplTo[1] - 40)) <= 10, `template at ${tx},${ty}, finger let go at ${tplTo}`)
  // It goes again (long press, Delete), so that the flow is inject and debug.
  await finger.press([tx, ty], 900)
  await finger.tap(await centre(page.getByRole('menu').getByRole('menuitem', { name: /^Delete/ })))
  await until(3000, 'the template node deleted', async () => (await tabNodes(page)).length === 2)

  // A drop outside the canvas (back on the palette) adds nothing.
  const fn = page.locator('.rn-palette-node[data-type="function"]')
  await fn.scrollIntoViewIfNeeded()
  const fnAt = await centre(fn)
  await finger.drag(fnAt, [fnAt[0] + 60, fnAt[1] + 5])
  await sleep(200)
  assert.equal((await tabNodes(page)).length, 2, 'a drop on the palette adds nothing')

  // Ports are bigger under a coarse pointer.
  const pb = await port(page, inject, 'o0').boundingBox()
  assert.ok(pb.width >= 14 && pb.height >= 14, `output port is ${pb.width}x${pb.height}`)

  // A wire drawn with a finger, from inject's output, let go near (not on) debug's input: the connection radius catches it.
  const out = await centre(port(page, inject, 'o0'))
  const inp = await centre(port(page, debug, 'i'))
  await finger.drag(out, [inp[0] - 14, inp[1] + 12], { steps: 20 })
  await until(3000, 'the wire', async () => (await page.locator('.react-flow__edge').count()) === 1)
  await shot(page, 'touch-2-wired')

  // A long press on debug opens the context menu a right click opens, with debug selected.
  await finger.press(await centre(nodeEl(page, debug)), 900)
  const menu = page.getByRole('menu')
  await until(3000, 'the context menu', () => menu.isVisible())
  assert.equal(await page.locator('.react-flow__node.selected').count(), 1)
  assert.equal(await page.locator('.react-flow__node.selected').getAttribute('data-id'), debug)
  assert.equal(await menu.getByRole('menuitem', { name: /^Edit/ }).isEnabled(), true)
  assert.equal(await menu.getByRole('menuitem', { name: /^Delete/ }).isEnabled(), true)
  await shot(page, 'touch-3-menu')
  // Lifting the finger did not click the menu away; a tap on the empty canvas does.
  await finger.tap([canvas.x + 250, canvas.y + 100])
  await until(3000, 'the menu closed', async () => !(await menu.isVisible()))

  // Deploy with a tap.
  await finger.tap(await centre(page.getByTestId('deploy')))
  await until(5000, 'the deploy', async () => (await page.getByTestId('deploy').isDisabled()))
  const flows = (await server.flows()).flows
  const mine = flows.filter((o) => o.z === tab)
  assert.deepEqual(mine.map((o) => o.type).sort(), ['debug', 'inject'])
  const dep = Object.fromEntries(mine.map((o) => [o.type, o]))
  assert.equal(dep.inject.id, inject)
  assert.equal(dep.debug.id, debug)
  assert.deepEqual(dep.inject.wires, [[debug]])
  // The flow runs: a tap on inject's button sends a message that debug shows in the sidebar.
  const button = nodeEl(page, inject).locator('.rn-inject')
  await until(5000, 'the inject button enabled (the node deployed)', () => button.isEnabled())
  await finger.tap(await centre(button))
  await page.getByTestId('notice-success').filter({ hasText: 'Injected' }).waitFor()
  await until(10_000, 'the debug message', async () => (await page.locator(`[data-testid="debug-msg"][data-node="${debug}"]`).count()) === 1)
  await shot(page, 'touch-4-deployed')
  assert.deepEqual(errors, [])
})

test('with a finger: tap to add and to wire, move a node, pan, pinch, long press on the empty canvas', async () => {
  const { page, errors, finger } = await tablet()
  await openEditor(page, server.url)
  await newTab(page, finger)
  // With no keyboard for Ctrl+Space, the main menu hides the sidebar: the canvas gets its room.
  const narrow = await page.locator('.rn-canvas').boundingBox()
  await finger.tap(await centre(page.getByTestId('main-menu')))
  await finger.tap(await centre(page.getByRole('menuitem', { name: /^Hide sidebar/ })))
  await until(3000, 'the sidebar hidden', async () => (await page.locator('.rn-sidebar').count()) === 0)
  await until(3000, 'the menu closed', async () => (await page.getByRole('menu').count()) === 0)
  const canvas = await page.locator('.rn-canvas').boundingBox()
  // The canvas reaches the strip that reopens the sidebar (Layout.tsx).
  const strip = await page.getByTestId('sidebar-strip').boundingBox()
  assert.equal(canvas.x + canvas.width, strip.x, `canvas ${canvas.width} px wide, was ${narrow.width}`)
  assert.equal(strip.x + strip.width, 820)
  const mid = [canvas.x + canvas.width / 2, canvas.y + canvas.height / 2]

  // A tap on a palette entry adds the node at the centre of the visible canvas, and a second tap adds one below it.
  const change = page.locator('.rn-palette-node[data-type="change"]')
  await change.scrollIntoViewIfNeeded()
  await finger.tap(await centre(change))
  const first = await until(3000, 'a change node', async () => (await tabNodes(page)).find((n) => n.type === 'change'))
  const [cx, cy] = await centre(nodeEl(page, first.id))
  assert.ok(Math.abs(cx - mid[0]) <= 10 && Math.abs(cy - mid[1]) <= 10, `change at ${cx},${cy}, canvas centre ${mid}`)
  const debugEntry = page.locator('.rn-palette-node[data-type="debug"]')
  await debugEntry.scrollIntoViewIfNeeded()
  await finger.tap(await centre(debugEntry))
  const second = await until(3000, 'a debug node', async () => (await tabNodes(page)).find((n) => n.type === 'debug'))
  const [, sy] = await centre(nodeEl(page, second.id))
  assert.ok(Math.abs(sy - (cy + 40)) <= 2, `the second node is 40 px below the first (${sy} vs ${cy})`)
  // The tap did not open the type's help (a mouse click on an entry does).
  assert.equal(await page.locator('.rn-sidebar').count(), 0, 'the sidebar stays hidden')

  // Move debug down with a finger: it stays under the finger (React Flow snaps its corner to the 20 px grid).
  const dbg = nodeEl(page, second.id)
  const [bx, by] = await centre(dbg)
  await finger.drag([bx + 10, by], [bx + 10, by + 160], { steps: 16 })
  const [mx, my] = await centre(dbg)
  assert.ok(Math.abs(mx - bx) <= 10 && Math.abs(my - (by + 160)) <= 10, `moved to ${mx},${my} from ${bx},${by}`)
  // A tap selects a node.
  await finger.tap(await centre(nodeEl(page, first.id)))
  await until(3000, 'change selected', async () => (await page.locator('.react-flow__node.selected').getAttribute('data-id')) === first.id)
  assert.equal(await page.locator('.react-flow__node.selected').count(), 1)
  // A double tap opens its settings.
  const at = await centre(nodeEl(page, first.id))
  await finger.tap(at)
  await sleep(80)
  await finger.tap(at)
  const tray = page.getByTestId('tray')
  await until(3000, 'the settings tray', async () => (await tray.getAttribute('data-node')) === first.id)
  await finger.tap(await centre(tray.getByRole('button', { name: 'Cancel' })))
  await until(3000, 'the tray closed', async () => (await tray.count()) === 0)

  // Wire by tapping: change's output, then debug's input. (A finger resting on a port opens no menu: it is about to
  // draw a wire, and lifting it is a tap.)
  await finger.press(await centre(port(page, first.id, 'o0')), 900)
  await until(3000, 'the output port lit', async () => (await page.locator('.react-flow__handle.clickconnecting').count()) === 1)
  assert.equal(await page.getByRole('menu').count(), 0, 'no menu from a port')
  await shot(page, 'touch-5-tap-port')
  await finger.tap(await centre(port(page, second.id, 'i')))
  await until(3000, 'the wire', async () => (await page.locator('.react-flow__edge').count()) === 1)
  assert.equal(await page.locator('.react-flow__handle.clickconnecting').count(), 0)
  // A long press on the wire selects it and opens the menu, whose Delete removes it; a tap on the ports brings it back.
  const mid0 = await page.locator('.react-flow__edge path.react-flow__edge-path').evaluate((p) => {
    const pt = p.getPointAtLength(p.getTotalLength() / 2)
    const m = p.getScreenCTM()
    return [pt.x * m.a + m.e, pt.y * m.d + m.f]
  })
  await finger.press([mid0[0] + 6, mid0[1]], 900)
  await until(3000, 'the context menu', () => page.getByRole('menu').isVisible())
  assert.equal(await page.locator('.react-flow__edge.selected').count(), 1)
  assert.equal(await page.locator('.react-flow__node.selected').count(), 0)
  await finger.tap(await centre(page.getByRole('menu').getByRole('menuitem', { name: /^Delete/ })))
  await until(3000, 'the wire deleted', async () => (await page.locator('.react-flow__edge').count()) === 0)
  await finger.tap(await centre(port(page, first.id, 'o0')))
  await finger.tap(await centre(port(page, second.id, 'i')))
  await until(3000, 'the wire again', async () => (await page.locator('.react-flow__edge').count()) === 1)
  // A port tapped and then the empty canvas: no wire.
  await finger.tap(await centre(port(page, first.id, 'o0')))
  await until(3000, 'the output port lit', async () => (await page.locator('.react-flow__handle.clickconnecting').count()) === 1)
  await finger.tap([canvas.x + 40, canvas.y + 60])
  await until(3000, 'the port no longer lit', async () => (await page.locator('.react-flow__handle.clickconnecting').count()) === 0)
  await finger.tap(await centre(port(page, second.id, 'i')))
  await sleep(200)
  assert.equal(await page.locator('.react-flow__edge').count(), 1)
  await finger.tap(await centre(nodeEl(page, first.id)))

  // One finger on the empty canvas pans it; it does not open the menu however long it takes.
  const v0 = await viewport(page)
  const empty = [canvas.x + 60, canvas.y + 120]
  await finger.drag(empty, [empty[0] + 50, empty[1] + 100], { steps: 20, every: 40 })
  const v1 = await viewport(page)
  assert.ok(Math.abs(v1.x - v0.x - 50) <= 2 && Math.abs(v1.y - v0.y - 100) <= 2, `panned by ${v1.x - v0.x},${v1.y - v0.y}`)
  assert.equal(await page.getByRole('menu').count(), 0, 'a pan is not a long press')

  // Two fingers pinch: zoom out, then in.
  await finger.pinch(mid, 200, 100)
  const v2 = await viewport(page)
  assert.ok(v2.zoom < 0.75 && v2.zoom > 0.3, `pinched to zoom ${v2.zoom}`)
  await finger.pinch(mid, 100, 200)
  const v3 = await viewport(page)
  assert.ok(Math.abs(v3.zoom - 1) < 0.2, `pinched back to zoom ${v3.zoom}`)
  assert.equal(await page.getByRole('menu').count(), 0, 'a pinch is not a long press')

  // A tap on the empty canvas clears the selection, as a click does.
  assert.ok((await page.locator('.react-flow__node.selected').count()) > 0)
  await finger.tap(empty)
  await until(3000, 'nothing selected', async () => (await page.locator('.react-flow__node.selected').count()) === 0)
  // A short press is no long press; a press that wanders more than 10 px is none either.
  await finger.press(empty, 250)
  await sleep(400)
  await finger.press(empty, 900, 20)
  await sleep(100)
  assert.equal(await page.getByRole('menu').count(), 0)

  // A long press on the empty canvas opens the menu where the finger is, with nothing selected.
  await finger.press(empty, 900)
  const menu = page.getByRole('menu')
  await until(3000, 'the context menu', () => menu.isVisible())
  const mb = await menu.boundingBox()
  assert.ok(Math.abs(mb.x - empty[0]) <= 2 && Math.abs(mb.y - empty[1]) <= 2, `menu at ${mb.x},${mb.y}, finger at ${empty}`)
  assert.equal(await menu.getByRole('menuitem', { name: /^Edit/ }).isEnabled(), false)
  // Menu entries are tall enough for a finger.
  const ib = await menu.getByRole('menuitem', { name: /^Import/ }).boundingBox()
  assert.ok(ib.height >= 36, `menu entry ${ib.height} px high`)
  await shot(page, 'touch-6-pane-menu')
  // Near the bottom right corner of the window, the menu moves up and left to stay inside it.
  await finger.tap(empty)
  await until(3000, 'the menu closed', async () => (await menu.count()) === 0)
  const corner = [canvas.x + canvas.width - 30, canvas.y + canvas.height - 190] // above the minimap
  await finger.press(corner, 900)
  await until(3000, 'the context menu', () => menu.isVisible())
  const cb = await menu.boundingBox()
  assert.ok(cb.x + cb.width <= 820 && cb.y + cb.height <= 1180 && cb.x >= 0 && cb.y >= 0, `menu ${JSON.stringify(cb)} inside 820x1180`)
  assert.ok(Math.abs(cb.y + cb.height - 1176) <= 2, `moved up just enough: bottom at ${cb.y + cb.height}`)
  assert.ok(Math.abs(cb.x + cb.width - 816) <= 2, `moved left just enough: right at ${cb.x + cb.width}`)
  await shot(page, 'touch-7-corner-menu')
  // A tap on Import… opens the import dialog.
  await finger.tap(await centre(menu.getByRole('menuitem', { name: /^Import/ })))
  await until(3000, 'the import dialog', async () => (await page.locator('.rn-import-text').count()) === 1)
  assert.deepEqual(errors, [])
})

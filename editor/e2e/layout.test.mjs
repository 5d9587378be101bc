// The editor's layout on small screens: the palette and the sidebar resize
// (drag or keyboard) and collapse to a strip, and remember it across reloads;
// a narrow window starts with the sidebar collapsed; the minimap is off until
// asked for; the first view of a tab fits its flow without zooming a small
// one past 100 %. Measured at 1024x700 and 820x1180 in real Chromium.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { launch, openEditor, shot, startServer, until } from './helpers.mjs'

let browser, server
before(async () => {
  browser = await launch()
  server = await startServer()
})
after(async () => {
  await browser?.close()
  await server?.stop()
})

/** A page of the given size (a fresh context: empty localStorage) that records page errors. */
async function pageAt(width, height) {
  const context = await browser.newContext({ viewport: { width, height } })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  const errors = []
  page.on('pageerror', (e) => errors.push(e))
  page.on('console', (m) => m.type() === 'error' && errors.push(new Error('console: ' + m.text())))
  return { page, context, errors }
}

const width = async (page, sel) => {
  if (!(await page.locator(sel).count())) return 0
  const bb = await page.locator(sel).boundingBox()
  return bb ? Math.round(bb.width) : 0
}
const widths = async (page) => ({
  palette: await width(page, '.rn-palette'),
  canvas: await width(page, '.rn-canvas'),
  sidebar: await width(page, '.rn-sidebar'),
})
/** The canvas's zoom, from React Flow's viewport transform. */
const zoom = (page) =>
  page.locator('.react-flow__viewport').evaluate((el) => new DOMMatrixReadOnly(getComputedStyle(el).transform).a)

const flow = (tab, nodes) => [
  { id: tab, type: 'tab', label: 'Layout', disabled: false, info: '' },
  ...nodes.map(([id, x, y], i) => ({
    id, type: 'debug', z: tab, name: 'node ' + i, active: true, tosidebar: true, console: false, tostatus: false, complete: 'false', x, y, wires: [],
  })),
]

test('1024x700: panes collapse, resize and are remembered; minimap off until toggled', async () => {
  await server.deploy(flow('lt1', [['a1', 200, 100], ['a2', 400, 160]]))
  const { page, context, errors } = await pageAt(1024, 700)
  await openEditor(page, server.url)

  // Wide enough for the sidebar: both panes open at their initial widths, as before.
  const before = await widths(page)
  console.log('layout: 1024x700 initial', before)
  assert.deepEqual(before, { palette: 180, canvas: 1024 - 180 - 340, sidebar: 340 })
  assert.equal(await page.locator('.react-flow__minimap').count(), 0, 'no minimap by default')
  await shot(page, 'layout-1024-initial')

  // Collapse both: thin strips remain, the canvas takes the rest.
  await page.getByTestId('sidebar-toggle').click()
  await page.getByTestId('palette-toggle').click()
  assert.equal(await page.locator('.rn-sidebar').count(), 0)
  assert.equal(await page.locator('.rn-palette').count(), 0)
  const strips = { palette: await width(page, '[data-testid=palette-strip]'), sidebar: await width(page, '[data-testid=sidebar-strip]') }
  assert.deepEqual(strips, { palette: 24, sidebar: 24 })
  assert.equal(await width(page, '.rn-canvas'), 1024 - 48)
  await shot(page, 'layout-1024-collapsed')

  // Remembered across a reload.
  await page.reload()
  await openEditor(page, server.url)
  assert.equal(await page.locator('.rn-sidebar').count(), 0)
  assert.equal(await page.locator('.rn-palette').count(), 0)
  assert.equal(await width(page, '.rn-canvas'), 1024 - 48)

  // The strips reopen them.
  await page.getByTestId('palette-strip').click()
  await page.getByTestId('sidebar-strip').click()
  assert.deepEqual(await widths(page), before)

  // Drag the palette's handle 60 px right; the sidebar's 40 px left (it widens).
  const drag = async (sel, dx) => {
    const bb = await page.locator(sel).boundingBox()
    const x = bb.x + bb.width / 2, y = bb.y + bb.height / 2
    await page.mouse.move(x, y)
    await page.mouse.down()
    for (let i = 1; i <= 5; i++) await page.mouse.move(x + (dx * i) / 5, y)
    await page.mouse.up()
  }
  await drag('[data-testid=palette-resizer]', 60)
  await drag('[data-testid=sidebar-resizer]', -40)
  assert.deepEqual(await widths(page), { palette: 240, canvas: 1024 - 240 - 380, sidebar: 380 })

  // Keyboard: arrows move the focused handle by 10 px (50 with Shift), Home and End go to the limits.
  await page.getByTestId('sidebar-resizer').focus()
  await page.keyboard.press('ArrowRight')
  await page.keyboard.press('ArrowRight')
  assert.equal(await width(page, '.rn-sidebar'), 360)
  await page.getByTestId('palette-resizer').focus()
  await page.keyboard.press('Shift+ArrowLeft')
  assert.equal(await width(page, '.rn-palette'), 190)
  await page.keyboard.press('Home')
  assert.equal(await width(page, '.rn-palette'), 120, 'the palette has a minimum width')
  assert.equal(await page.getByTestId('palette-resizer').getAttribute('aria-valuenow'), '120')
  await drag('[data-testid=palette-resizer]', 600)
  assert.equal(await width(page, '.rn-palette'), 400, 'the palette has a maximum width')
  await page.getByTestId('palette-resizer').dblclick()
  assert.equal(await width(page, '.rn-palette'), 180, 'a double-click restores the initial width')
  await page.getByTestId('sidebar-resizer').focus()
  await page.keyboard.press('End')
  // The sidebar stops where the canvas would have less than 360 px.
  assert.equal(await width(page, '.rn-sidebar'), 1024 - 180 - 360)
  await page.keyboard.press('Shift+ArrowRight')
  assert.equal(await width(page, '.rn-sidebar'), 1024 - 180 - 360 - 50)
  const chosen = await widths(page)

  await page.reload()
  await openEditor(page, server.url)
  assert.deepEqual(await widths(page), chosen, 'widths remembered across a reload')

  // The minimap: a control shows it, and that is remembered too.
  await page.getByTestId('minimap-toggle').click()
  await until(3000, 'the minimap', async () => (await page.locator('.react-flow__minimap').count()) === 1)
  assert.equal(await page.getByTestId('minimap-toggle').getAttribute('aria-pressed'), 'true')
  await shot(page, 'layout-1024-minimap')
  await page.reload()
  await openEditor(page, server.url)
  assert.equal(await page.locator('.react-flow__minimap').count(), 1, 'minimap remembered across a reload')
  await page.getByTestId('minimap-toggle').click()
  await until(3000, 'the minimap hidden', async () => (await page.locator('.react-flow__minimap').count()) === 0)

  // Ctrl+Space still toggles the sidebar, and the choice is remembered.
  await page.locator('.react-flow__pane').click({ position: { x: 300, y: 400 } })
  await page.keyboard.press('Control+Space')
  assert.equal(await page.locator('.rn-sidebar').count(), 0)
  await page.reload()
  await openEditor(page, server.url)
  assert.equal(await page.locator('.rn-sidebar').count(), 0)
  assert.deepEqual(errors, [])
  await context.close()
})

test('820x1180: the sidebar starts collapsed on a narrow window; opened, it leaves the canvas 360 px', async () => {
  await server.deploy(flow('lt2', [['b1', 200, 100], ['b2', 400, 160], ['b3', 600, 220]]))
  const { page, context, errors } = await pageAt(820, 1180)
  await openEditor(page, server.url)
  assert.equal(await page.locator('.rn-sidebar').count(), 0, 'sidebar collapsed by default under 900 px')
  const w = await widths(page)
  console.log('layout: 820x1180 initial', w, '(before: palette 180, sidebar 340, canvas 300)')
  assert.deepEqual(w, { palette: 180, canvas: 820 - 180 - 24, sidebar: 0 })
  await shot(page, 'layout-820-initial')

  await page.getByTestId('sidebar-strip').click()
  const open = await widths(page)
  console.log('layout: 820x1180 sidebar opened', open)
  assert.deepEqual(open, { palette: 180, canvas: 360, sidebar: 820 - 180 - 360 })
  await shot(page, 'layout-820-sidebar')

  // Opened by the user: it stays open after a reload, narrow window or not.
  await page.reload()
  await openEditor(page, server.url)
  assert.equal(await width(page, '.rn-sidebar'), 820 - 180 - 360)
  assert.deepEqual(errors, [])
  await context.close()
})

test('the first view of a tab fits its flow, without zooming a small flow past 100 %', async () => {
  // A small flow: fitted, it would be zoomed to 300 %; it stays at 100 %.
  await server.deploy(flow('lt3', [['c1', 300, 200], ['c2', 420, 240]]))
  const { page, context, errors } = await pageAt(1024, 700)
  await openEditor(page, server.url)
  await until(3000, 'the view to settle', async () => (await zoom(page)) > 0)
  assert.equal(await zoom(page), 1)
  const canvas = await page.locator('.rn-canvas').boundingBox()
  for (const id of ['c1', 'c2']) {
    const bb = await page.locator(`.react-flow__node[data-id="${id}"]`).boundingBox()
    assert.ok(bb.x >= canvas.x && bb.x + bb.width <= canvas.x + canvas.width && bb.y >= canvas.y && bb.y + bb.height <= canvas.y + canvas.height, `${id} on screen`)
  }

  // A wide flow (1,800 px) of wired json nodes: zoomed out until every node is on screen, with a margin.
  const wide = []
  for (let i = 0; i < 12; i++) wide.push(['w' + i, 100 + i * 150, 80 + (i % 6) * 90])
  const wideFlow = flow('lt4', wide).map((o, i) =>
    o.type === 'tab' ? o : { id: o.id, type: 'json', z: o.z, name: o.name, property: 'payload', action: '', x: o.x, y: o.y, wires: i < wide.length ? [['w' + i]] : [] },
  )
  await server.deploy(wideFlow)
  await page.reload()
  await openEditor(page, server.url)
  await until(3000, 'the view to fit', async () => (await zoom(page)) < 1)
  const z = await zoom(page)
  assert.ok(z > 0.1 && z < 1, `zoom ${z}`)
  const c2 = await page.locator('.rn-canvas').boundingBox()
  for (const [id] of wide) {
    const bb = await page.locator(`.react-flow__node[data-id="${id}"]`).boundingBox()
    assert.ok(bb && bb.x >= c2.x && bb.x + bb.width <= c2.x + c2.width && bb.y >= c2.y && bb.y + bb.height <= c2.y + c2.height, `${id} on screen`)
  }
  // Zoomed out this far (under 30 %), nodes draw without ports' handles (zoomDetail.tsx), yet every wire keeps its ends.
  assert.equal(await page.locator('.react-flow__edge').count(), wide.length - 1)
  assert.equal(await page.locator('.rn-canvas.rn-detail-2').count(), 1)
  for (const d of await page.locator('.react-flow__edge-path').evaluateAll((els) => els.map((e) => e.getAttribute('d')))) assert.match(d ?? '', /^M/)
  await shot(page, 'layout-1024-fit')
  assert.deepEqual(errors, [])
  await context.close()
})

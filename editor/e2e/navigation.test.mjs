// Navigating the workspace as a Node-RED user does: Ctrl+F searches every
// tab (a setting's value too) and jumps to the node; quick-add (/ and
// Ctrl+click on the canvas) adds a node where asked and wires it from the
// selected one; the info sidebar's outline lists tabs, groups and nodes and
// jumps to them; the open tab survives a reload; and a deploy made by
// another browser shows a notice in this one (reloading, or offering a merge
// when this one has changes).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { launch, newPage, nodeEl, openEditor, shot, sleep, startServer, until } from './helpers.mjs'

let browser, server
before(async () => {
  browser = await launch()
  server = await startServer()
})
after(async () => {
  await browser?.close()
  await server?.stop()
})

const ingest = [
  { id: 'nt1', type: 'tab', label: 'Ingest', disabled: false, info: '' },
  { id: 'ninj', type: 'inject', z: 'nt1', name: 'tick', props: [{ p: 'payload' }], payload: '', payloadType: 'date', topic: 'sensors/kitchen', repeat: '', once: false, onceDelay: 0.1, x: 140, y: 120, wires: [['nchg']] },
  { id: 'nchg', type: 'change', z: 'nt1', name: 'scale', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: '42', tot: 'num' }], x: 320, y: 120, wires: [['ndbg']] },
  { id: 'ndbg', type: 'debug', z: 'nt1', name: 'out', active: true, tosidebar: true, complete: 'payload', x: 500, y: 120, wires: [] },
]
const alerts = [
  { id: 'nt2', type: 'tab', label: 'Alerts', disabled: false, info: '' },
  { id: 'ntpl', type: 'template', z: 'nt2', name: 'alert text', field: 'payload', fieldType: 'msg', syntax: 'mustache', template: 'Boiler pressure is {{payload}} bar', output: 'str', x: 900, y: 600, wires: [[]] },
]
const spare = [{ id: 'nt3', type: 'tab', label: 'Spare', disabled: false, info: '' }]
/** The three tabs, the Ingest tab's change and debug nodes in a group. */
function grouped() {
  const g = { id: 'ng1', type: 'group', z: 'nt1', name: 'Pipeline', style: { label: true }, nodes: ['nchg', 'ndbg'], x: 244, y: 79, w: 332, h: 82 }
  return [ingest[0], g, ...ingest.slice(1).map((o) => (o.id === 'ninj' ? o : { ...o, g: 'ng1' })), ...alerts, ...spare]
}

const activeTab = (page) => page.locator('.rn-tab.active').textContent()
const selectedIds = (page) => page.locator('.react-flow__node.selected').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))

/** Whether a node is drawn in the middle of the canvas (within 2 px). */
async function centred(page, id) {
  const pane = await page.locator('.react-flow').boundingBox()
  const n = await nodeEl(page, id).boundingBox()
  if (!pane || !n) return false
  return Math.abs(n.x + n.width / 2 - (pane.x + pane.width / 2)) < 2 && Math.abs(n.y + n.height / 2 - (pane.y + pane.height / 2)) < 2
}

/** The flow position (as the editor computes it) of a point of the page. */
const flowAt = (page, x, y) =>
  page.evaluate(([x, y]) => {
    const m = new DOMMatrix(getComputedStyle(document.querySelector('.react-flow__viewport')).transform)
    const r = document.querySelector('.react-flow').getBoundingClientRect()
    return { x: (x - r.left - m.e) / m.a, y: (y - r.top - m.f) / m.d }
  }, [x, y])
const snap = (p) => ({ x: Math.round(p.x / 20) * 20, y: Math.round(p.y / 20) * 20 })

test('Ctrl+F finds a node by a setting on another tab, switches to it, centres and selects it', async () => {
  await server.deploy(grouped())
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  assert.equal(await activeTab(page), 'Ingest')

  // In a text field Ctrl+F is the browser's, not ours.
  await page.getByLabel('Filter nodes').focus()
  await page.keyboard.press('Control+f')
  await sleep(200)
  assert.equal(await page.getByTestId('search').count(), 0)

  // On the canvas it opens the search; a setting's value, whatever its case, finds the template on Alerts.
  await page.locator('.react-flow__pane').click({ position: { x: 30, y: 30 } })
  await page.keyboard.press('Control+f')
  const input = page.getByTestId('search-input')
  await input.waitFor()
  assert.equal(await input.evaluate((el) => el === document.activeElement), true)
  await input.fill('PRESSURE IS')
  assert.equal(await page.getByTestId('search-count').textContent(), '1 match')
  const hit = page.getByTestId('search-result')
  assert.equal(await hit.count(), 1)
  assert.equal(await hit.getAttribute('data-id'), 'ntpl')
  assert.equal(await hit.locator('.rn-search-label').textContent(), 'alert text')
  assert.equal(await hit.locator('.rn-search-type').textContent(), 'template')
  assert.equal(await hit.locator('.rn-search-where').textContent(), 'Alerts')
  assert.equal(await hit.locator('.rn-search-prop').textContent(), 'template: Boiler pressure is {{payload}} bar')
  await shot(page, 'nav-01-search')
  await page.keyboard.press('Enter')
  await page.getByTestId('search').waitFor({ state: 'detached' })
  assert.equal(await activeTab(page), 'Alerts')
  await until(3000, 'the template selected and centred', async () => JSON.stringify(await selectedIds(page)) === '["ntpl"]' && (await centred(page, 'ntpl')))
  await shot(page, 'nav-02-search-jumped')

  // By id, by type; arrows move through the results, a click jumps too; Escape closes.
  await page.keyboard.press('Control+f')
  await input.fill('ndbg')
  assert.deepEqual(await hit.evaluateAll((els) => els.map((e) => e.getAttribute('data-id'))), ['ndbg'])
  await input.fill('e')
  // Labels that match come first, in the document's order; then those that match by type or setting.
  const ids = await hit.evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))
  assert.deepEqual(ids, ['nt1', 'ng1', 'nchg', 'nt2', 'ntpl', 'nt3', 'ninj', 'ndbg'])
  assert.equal(await hit.nth(0).getAttribute('aria-selected'), 'true')
  await page.keyboard.press('ArrowDown')
  await page.keyboard.press('ArrowDown')
  await page.keyboard.press('ArrowUp')
  assert.deepEqual(await hit.evaluateAll((els) => els.map((e) => e.getAttribute('aria-selected'))), ['false', 'true', 'false', 'false', 'false', 'false', 'false', 'false'])
  await page.keyboard.press('Escape')
  await page.getByTestId('search').waitFor({ state: 'detached' })
  assert.equal(await activeTab(page), 'Alerts')
  assert.deepEqual(await selectedIds(page), ['ntpl'], 'Escape in the search keeps the selection')
  await page.keyboard.press('Control+f')
  await input.fill('CHANGE')
  assert.deepEqual(await hit.evaluateAll((els) => els.map((e) => e.getAttribute('data-id'))), ['nchg'])
  await hit.click()
  assert.equal(await activeTab(page), 'Ingest')
  await until(3000, 'the change node selected and centred', async () => JSON.stringify(await selectedIds(page)) === '["nchg"]' && (await centred(page, 'nchg')))
  assert.deepEqual(errors, [])
})

test('quick-add: Ctrl+click and / add a node there, selected, wired from the selected node; one undo each', async () => {
  await server.deploy(grouped())
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('.rn-tab[data-tab="nt3"]').click()
  const pane = page.locator('.react-flow__pane')
  const canvas = await page.locator('.rn-canvas').boundingBox()
  const cx = canvas.x + canvas.width / 2
  const cy = canvas.y + canvas.height / 2
  const list = page.getByTestId('quick-add')
  const items = page.getByTestId('quick-add-item')
  const input = page.getByTestId('quick-add-input')

  // Ctrl+click left of the middle, nothing selected: an inject there.
  const left = snap(await flowAt(page, cx - 200, cy))
  await pane.click({ position: { x: cx - 200 - canvas.x, y: cy - canvas.y }, modifiers: ['Control'] })
  await list.waitFor()
  const lb = await list.boundingBox()
  assert.deepEqual([Math.round(lb.x), Math.round(lb.y)], [Math.round(cx - 200), Math.round(cy)], 'the list opens where the click was')
  assert.equal(await list.locator('.rn-quickadd-wire').count(), 0)
  await input.fill('INJ')
  assert.equal(await items.first().getAttribute('data-type'), 'inject')
  await page.keyboard.press('Enter')
  await list.waitFor({ state: 'detached' })
  await until(2000, 'one node on the tab', async () => (await page.locator('.react-flow__node').count()) === 1)
  const [inj] = await selectedIds(page)
  assert.equal(await nodeEl(page, inj).locator('.rn-node').getAttribute('data-type'), 'inject')

  // / with the inject selected: a json node in the middle of the view, wired from it. The palette label matches too.
  const mid = snap(await flowAt(page, cx, cy))
  await page.keyboard.press('/')
  await list.waitFor()
  assert.equal(await list.locator('.rn-quickadd-wire').textContent(), 'wired from ' + (await nodeEl(page, inj).locator('.rn-label').textContent()))
  await input.fill('zzz')
  assert.equal(await items.count(), 0)
  assert.equal(await list.locator('.rn-quickadd-none').textContent(), 'No node type matches “zzz”')
  await input.fill('jso')
  assert.equal(await items.first().getAttribute('data-type'), 'json')
  await shot(page, 'nav-03-quick-add')
  await page.keyboard.press('Enter')
  await until(2000, 'two nodes, one wire', async () => (await page.locator('.react-flow__node').count()) === 2 && (await page.locator('.react-flow__edge').count()) === 1)
  const [json] = await selectedIds(page)
  assert.notEqual(json, inj)

  // Escape closes the list and adds nothing.
  await page.keyboard.press('/')
  await list.waitFor()
  await page.keyboard.press('Escape')
  await list.waitFor({ state: 'detached' })
  assert.equal(await page.locator('.react-flow__node').count(), 2)
  assert.deepEqual(await selectedIds(page), [json])

  // Ctrl+click right of the middle with the json node selected: a debug there, wired from json; arrows pick it.
  const right = snap(await flowAt(page, cx + 200, cy))
  await pane.click({ position: { x: cx + 200 - canvas.x, y: cy - canvas.y }, modifiers: ['Control'] })
  await list.waitFor()
  await input.fill('de')
  const types = await items.evaluateAll((els) => els.map((e) => e.getAttribute('data-type')))
  const at = types.indexOf('debug')
  assert.ok(at >= 0, 'debug is listed: ' + types)
  for (let i = 0; i < at; i++) await page.keyboard.press('ArrowDown')
  assert.equal(await list.locator('[aria-selected="true"]').getAttribute('data-type'), 'debug')
  await page.keyboard.press('Enter')
  await until(2000, 'three nodes, two wires', async () => (await page.locator('.react-flow__node').count()) === 3 && (await page.locator('.react-flow__edge').count()) === 2)
  const [dbg] = await selectedIds(page)
  await shot(page, 'nav-04-quick-added')

  // One undo takes back the node and its wire; redo brings both.
  await page.keyboard.press('Control+z')
  assert.equal(await page.locator('.react-flow__node').count(), 2)
  assert.equal(await page.locator('.react-flow__edge').count(), 1)
  await page.keyboard.press('Control+y')
  assert.equal(await page.locator('.react-flow__node').count(), 3)
  assert.equal(await page.locator('.react-flow__edge').count(), 2)

  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  const got = (await server.flows()).flows.filter((o) => o.z === 'nt3').map(({ id, type, x, y, wires }) => ({ id, type, x, y, wires }))
  assert.deepEqual(got, [
    { id: inj, type: 'inject', ...left, wires: [[json]] },
    { id: json, type: 'json', ...mid, wires: [[dbg]] },
    { id: dbg, type: 'debug', ...right, wires: [] },
  ])
  assert.deepEqual(errors, [])
})

test('the outline lists tabs, groups and nodes and jumps to them', async () => {
  await server.deploy(grouped())
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('[data-sidebar="info"]').click()
  const rows = () =>
    page.getByTestId('outline-item').evaluateAll((els) =>
      els.map((e) => [Number(e.getAttribute('data-depth')), e.getAttribute('data-id'), e.querySelector('.rn-outline-label').textContent, e.querySelector('.rn-outline-count')?.textContent ?? null]),
    )
  // The open tab unfolded (its group with its members), the others folded with their node counts.
  assert.deepEqual(await rows(), [
    [0, 'nt1', 'Ingest', null],
    [1, 'ng1', 'Pipeline', null],
    [2, 'nchg', 'scale', null],
    [2, 'ndbg', 'out', null],
    [1, 'ninj', 'tick', null],
    [0, 'nt2', 'Alerts', '1'],
    [0, 'nt3', 'Spare', '0'],
  ])
  await shot(page, 'nav-05-outline')
  // Fold the group, unfold Alerts.
  await page.locator('[data-testid="outline-item"][data-id="ng1"] .rn-outline-chev').click()
  await page.locator('[data-testid="outline-item"][data-id="nt2"] .rn-outline-chev').click()
  assert.deepEqual(await rows(), [
    [0, 'nt1', 'Ingest', null],
    [1, 'ng1', 'Pipeline', '2'],
    [1, 'ninj', 'tick', null],
    [0, 'nt2', 'Alerts', null],
    [1, 'ntpl', 'alert text', null],
    [0, 'nt3', 'Spare', '0'],
  ])
  // A node: its tab opens, centred on it, selected.
  await page.locator('[data-testid="outline-item"][data-id="ntpl"]').click()
  assert.equal(await activeTab(page), 'Alerts')
  await until(3000, 'the template selected and centred', async () => JSON.stringify(await selectedIds(page)) === '["ntpl"]' && (await centred(page, 'ntpl')))
  assert.equal(await page.locator('[data-testid="outline-item"][data-id="ntpl"]').getAttribute('aria-selected'), 'true')
  // The info below the outline shows the node.
  assert.match(await page.getByTestId('info').textContent(), /ntpl/)
  // A tab: it opens.
  await page.locator('[data-testid="outline-item"][data-id="nt3"]').click()
  assert.equal(await activeTab(page), 'Spare')
  // A group: its tab opens, the group selected and centred.
  await page.locator('[data-testid="outline-item"][data-id="ng1"]').click()
  assert.equal(await activeTab(page), 'Ingest')
  await until(3000, 'the group selected and centred', async () => JSON.stringify(await selectedIds(page)) === '["ng1"]' && (await centred(page, 'ng1')))
  await shot(page, 'nav-06-outline-jumped')
  assert.deepEqual(errors, [])
})

test('the open tab is remembered across reloads; a tab that is gone falls back to the first', async () => {
  await server.deploy(grouped())
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  assert.equal(await activeTab(page), 'Ingest')
  await page.locator('.rn-tab[data-tab="nt2"]').click()
  await openEditor(page, server.url)
  assert.equal(await activeTab(page), 'Alerts')
  assert.equal(await page.evaluate(() => localStorage.getItem('runnel-editor-tab')), 'nt2')
  // Alerts is deleted on the server: the first tab opens.
  await server.deploy([...ingest, ...spare])
  await openEditor(page, server.url)
  assert.equal(await activeTab(page), 'Ingest')
  assert.deepEqual(errors, [])
})

test('a deploy by another browser shows a notice: reloaded when clean, Merge offered when not', async () => {
  await server.deploy([...ingest, ...alerts])
  const a = await newPage(browser)
  const b = await newPage(browser)
  await openEditor(a.page, server.url)
  await openEditor(b.page, server.url)
  for (const p of [a.page, b.page]) await until(5000, 'connected', async () => (await p.getByTestId('connection').getAttribute('data-state')) === 'open')
  const notice = (p) => p.locator('.rn-notice[data-tag="remote-deploy"]')
  const clock = (p) => p.evaluate(() => { const d = new Date(); return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0') })

  // B adds a node and deploys; A has no changes: it reloads and says so.
  const t0 = await clock(a.page)
  await b.page.locator('.react-flow__pane').click({ position: { x: 30, y: 30 } })
  await b.page.keyboard.press('/')
  await b.page.getByTestId('quick-add-input').fill('delay')
  await b.page.keyboard.press('Enter')
  await b.page.getByTestId('deploy').click()
  await b.page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  const added = (await server.flows()).flows.find((o) => o.type === 'delay')
  assert.ok(added)
  await notice(a.page).waitFor()
  const t1 = await clock(a.page)
  const text = await notice(a.page).locator('.rn-notice-text').evaluate((el) => el.firstChild.textContent)
  const m = /^Flows were deployed by another session at (\d\d:\d\d) — 1 node changed; the editor reloaded them\.$/.exec(text)
  assert.ok(m, text)
  assert.ok(m[1] === t0 || m[1] === t1, `${m[1]} is ${t0} or ${t1}`)
  assert.deepEqual(await notice(a.page).locator('button').allTextContents(), ['Dismiss'])
  await nodeEl(a.page, added.id).waitFor()
  await shot(a.page, 'nav-07-remote-reloaded')
  // Not in B, whose deploy it was.
  await sleep(800)
  assert.equal(await notice(b.page).count(), 0)
  await notice(a.page).getByTestId('remote-dismiss').click()
  assert.equal(await notice(a.page).count(), 0)

  // A moves a node (not deployed); B adds another node and deploys: A is offered Merge, Reload, Dismiss.
  await nodeEl(a.page, 'ndbg').click()
  await a.page.keyboard.press('ArrowRight')
  await b.page.locator('.react-flow__pane').click({ position: { x: 30, y: 30 } })
  await b.page.keyboard.press('/')
  await b.page.getByTestId('quick-add-input').fill('batch')
  await b.page.keyboard.press('Enter')
  await b.page.getByTestId('deploy').click()
  await b.page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  const added2 = (await server.flows()).flows.find((o) => o.type === 'batch')
  await notice(a.page).waitFor()
  const text2 = await notice(a.page).locator('.rn-notice-text').evaluate((el) => el.firstChild.textContent)
  assert.match(text2, /^Flows were deployed by another session at \d\d:\d\d — 1 node changed\. You have changes that are not deployed\.$/)
  assert.deepEqual(await notice(a.page).locator('button').allTextContents(), ['Merge', 'Reload', 'Dismiss'])
  await shot(a.page, 'nav-08-remote-merge')
  await notice(a.page).getByTestId('remote-merge').click()
  await notice(a.page).waitFor({ state: 'detached' })
  await nodeEl(a.page, added2.id).waitFor()
  await a.page.getByTestId('deploy').click()
  await a.page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).waitFor()
  const merged = (await server.flows()).flows
  assert.equal(merged.find((o) => o.id === 'ndbg').x, 501)
  assert.ok(merged.some((o) => o.id === added.id) && merged.some((o) => o.id === added2.id))
  // Now B hears of A's deploy: one node moved.
  await notice(b.page).waitFor()
  assert.match(await notice(b.page).locator('.rn-notice-text').evaluate((el) => el.firstChild.textContent), /^Flows were deployed by another session at \d\d:\d\d — 1 node changed; the editor reloaded them\.$/)
  assert.equal(await notice(a.page).count(), 0)
  assert.deepEqual(a.errors, [])
  assert.deepEqual(b.errors, [])
})

// The history sidebar: every deploy is a revision the editor lists, shows,
// compares with another and rolls back to (issue 4). Three deploys through the
// editor (a "modified nodes" deploy of a changed template, an added and wired
// node, a renamed and moved node as a full deploy), then the list, one
// revision's details, the diff of two, and a rollback to the first.
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

const get = async (path) => {
  const r = await fetch(server.url + path)
  assert.equal(r.status, 200, `GET ${path}`)
  return r.json()
}

const pad = (n) => String(n).padStart(2, '0')
const local = (iso) => {
  const d = new Date(iso)
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** The rows of the history list as the page shows them. */
const rows = (page) =>
  page.getByTestId('revision').evaluateAll((els) =>
    els.map((e) => ({
      id: e.querySelector('[data-testid=revision-id]').textContent,
      type: e.querySelector('[data-testid=revision-type]').textContent,
      summary: e.querySelector('[data-testid=revision-summary]').textContent,
      nodes: e.querySelector('[data-testid=revision-nodes]').textContent,
      rel: e.querySelector('.rn-rev-rel').textContent,
      abs: e.querySelector('.rn-rev-abs').textContent,
      picked: e.getAttribute('aria-selected') === 'true',
    })),
  )

/** The diff entries as the page shows them: kind, tab, label, type, whether they can be shown. */
const diffEntries = (page) =>
  page.getByTestId('diff-group').evaluateAll((groups) =>
    groups.flatMap((g) =>
      [...g.querySelectorAll('.rn-diff-tab')].flatMap((t) =>
        [...t.querySelectorAll('[data-testid=diff-entry]')].map((e) => ({
          kind: g.dataset.kind,
          tab: t.querySelector('[data-testid=diff-tab]')?.textContent ?? '',
          id: e.dataset.id,
          label: e.querySelector('[data-testid=diff-label]').textContent,
          type: e.querySelector('[data-testid=diff-type]')?.textContent ?? '',
          show: !!e.querySelector('[data-testid=diff-show]'),
          detail: e.querySelector('.rn-diff-props')?.textContent ?? '',
        })),
      ),
    ),
  )

async function chooseDeployType(page, label) {
  await page.getByTestId('deploy-menu').click()
  await page.getByRole('menuitemradio', { name: new RegExp('^' + label) }).click()
}

async function deployAndWait(page, n) {
  await page.getByTestId('deploy').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Successfully deployed' }).last().waitFor()
  await until(5000, `revision #${n}`, async () => (await get('flows/revisions?limit=1')).revisions[0]?.id === n)
  // The success notice goes by itself; close it so the next one is new.
  for (const b of await page.getByTestId('notice-success').getByRole('button', { name: 'Close' }).all()) await b.click()
}

async function editField(page, nodeId, selector, value) {
  await nodeEl(page, nodeId).dblclick()
  const tray = page.getByTestId('tray')
  await tray.locator(selector).fill(value)
  await tray.getByRole('button', { name: 'Done' }).click()
  await tray.waitFor({ state: 'detached' })
}

test('history: list, details, diff of two, jump to a node, roll back to #1', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  const rev1 = await get('flows/revisions/1')
  assert.equal(rev1.revision.summary, 'the example flow: 6 added')

  // #2: a changed template, deployed as "Modified Nodes".
  await chooseDeployType(page, 'Modified Nodes')
  assert.equal(await page.getByTestId('deploy').textContent(), 'Deploy · Modified Nodes')
  await editField(page, 'render-alert', '#node-input-template', 'ALERT {{topic}}: {{payload.temperature}}')
  await deployAndWait(page, 2)

  // #3: a debug node added and wired from the template, still "Modified Nodes".
  const before = new Set(await page.locator('.react-flow__node').evaluateAll((els) => els.map((e) => e.dataset.id)))
  const alertBox = await nodeEl(page, 'render-alert').boundingBox()
  await dragFromPalette(page, 'debug', alertBox.x + 120, alertBox.y + 140)
  const debugId = await until(3000, 'the new debug node', async () =>
    (await page.locator('.react-flow__node').evaluateAll((els) => els.map((e) => e.dataset.id))).find((id) => !before.has(id)),
  )
  await wire(page, 'render-alert', debugId)
  await until(3000, 'the new wire', async () => (await page.locator(`.react-flow__edge`).count()) === 5)
  await deployAndWait(page, 3)

  // #4: the json node renamed and the mqtt-in node moved, a full deploy.
  await chooseDeployType(page, 'Full')
  await editField(page, 'parse-json', '#node-input-name', 'parse reading')
  const inBox = await nodeEl(page, 'sensors-in').boundingBox()
  await page.mouse.move(inBox.x + inBox.width / 2, inBox.y + inBox.height / 2)
  await page.mouse.down()
  await page.mouse.move(inBox.x + inBox.width / 2, inBox.y + inBox.height / 2 + 80, { steps: 6 })
  await page.mouse.up()
  await deployAndWait(page, 4)

  // The history tab lists the four revisions, newest first.
  await page.locator('[data-sidebar=history]').click()
  await until(5000, 'four revisions listed', async () => (await page.getByTestId('revision').count()) === 4)
  const api = (await get('flows/revisions')).revisions
  assert.deepEqual(api.map((r) => [r.id, r.deployType, r.summary, r.nodes]), [
    [4, 'full', '1 changed, 1 moved', 7],
    [3, 'nodes', '1 added, 1 rewired', 7],
    [2, 'nodes', '1 changed', 6],
    [1, 'full', 'the example flow: 6 added', 6],
  ])
  assert.deepEqual(await rows(page), api.map((r) => ({
    id: '#' + r.id, type: r.deployType, summary: r.summary, nodes: `${r.nodes} nodes`, rel: 'just now', abs: local(r.time), picked: false,
  })))
  assert.equal(await page.getByTestId('revision').first().locator('.rn-rev-current').textContent(), 'deployed')
  assert.equal(await page.getByTestId('revisions-more').count(), 0, 'no "load more" for four revisions')
  await shot(page, '40-history-list')

  // One revision: its details, from the keyboard (the list is one tab stop; arrows move, Enter picks).
  await page.getByTestId('revision').first().focus()
  await page.keyboard.press('ArrowDown')
  await page.keyboard.press('ArrowDown')
  await page.keyboard.press('Enter')
  const details = page.getByTestId('revision-details')
  await details.waitFor()
  assert.equal(await details.locator('h3').textContent(), 'Revision #2')
  assert.match(await details.textContent(), /Deploynodes/)
  assert.match(await details.textContent(), /Summary1 changed/)
  assert.match(await details.textContent(), /Sensor alerts · 5 nodes/)
  assert.deepEqual((await rows(page)).map((r) => r.picked), [false, false, true, false])
  // Arrows stayed in the list: no node moved, nothing was deleted.
  assert.equal(await page.locator('.react-flow__node').count(), 6)
  await shot(page, '41-history-details')

  // Two revisions: Space adds the focused one; the diff names each node and its flow.
  await page.keyboard.press('ArrowDown')
  await page.keyboard.press(' ')
  await page.getByTestId('revision-diff').waitFor()
  assert.equal(await page.getByTestId('revision-diff').locator('h3').textContent(), '#1 → #2')
  assert.deepEqual(await diffEntries(page), [
    { kind: 'changed', tab: 'Sensor alerts', id: 'render-alert', label: 'alert text', type: 'template', show: true,
      detail: `template${JSON.stringify(rev1.flows.find((o) => o.id === 'render-alert').template)} → "ALERT {{topic}}: {{payload.temperature}}"` },
  ])
  // Pick #4 instead with the mouse: shift-click drops the first picked (#2), keeps #1.
  await page.getByTestId('revision').nth(0).click({ modifiers: ['Shift'] })
  await until(3000, 'the diff of #1 and #4', async () => (await page.getByTestId('revision-diff').locator('h3').textContent()) === '#1 → #4')
  assert.deepEqual((await rows(page)).map((r) => r.picked), [true, false, false, true])
  assert.equal(await page.getByTestId('diff-summary').textContent(), '1 added, 2 changed, 1 moved')
  const entries = await diffEntries(page)
  assert.deepEqual(entries.map(({ detail, ...e }) => e), [
    { kind: 'added', tab: 'Sensor alerts', id: debugId, label: 'debug 1', type: 'debug', show: true },
    { kind: 'changed', tab: 'Sensor alerts', id: 'render-alert', label: 'alert text', type: 'template', show: true },
    { kind: 'changed', tab: 'Sensor alerts', id: 'parse-json', label: 'parse reading', type: 'json', show: true },
    { kind: 'moved', tab: 'Sensor alerts', id: 'sensors-in', label: 'sensor readings', type: 'mqtt-in', show: true },
  ])
  assert.equal(entries.find((e) => e.id === 'parse-json').detail, 'nameunset → "parse reading"')
  const in1 = rev1.flows.find((o) => o.id === 'sensors-in')
  const in4 = (await server.flows()).flows.find((o) => o.id === 'sensors-in')
  assert.equal(entries.find((e) => e.id === 'sensors-in').detail, `x, y: ${in1.x}, ${in1.y} → ${in4.x}, ${in4.y}`)
  await shot(page, '42-history-diff')

  // #2 → #3: a node added, and the template's wires, named by the nodes they go to.
  await page.getByTestId('revision').nth(1).click()
  await page.getByTestId('revision').nth(2).click({ modifiers: ['Shift'] })
  await until(3000, 'the diff of #2 and #3', async () => (await page.getByTestId('revision-diff').locator('h3').textContent()) === '#2 → #3')
  assert.deepEqual(await diffEntries(page), [
    { kind: 'added', tab: 'Sensor alerts', id: debugId, label: 'debug 1', type: 'debug', show: true, detail: '' },
    { kind: 'rewired', tab: 'Sensor alerts', id: 'render-alert', label: 'alert text', type: 'template', show: true, detail: 'wires: alerts → alerts, debug 1' },
  ])
  await page.getByTestId('revision').nth(0).click()
  await page.getByTestId('revision').nth(3).click({ modifiers: ['Shift'] })
  await until(3000, 'the diff of #1 and #4 again', async () => (await page.getByTestId('revision-diff').locator('h3').textContent()) === '#1 → #4')

  // Jump to a node of the diff: it is selected on the canvas.
  await page.getByRole('button', { name: 'Show parse reading on the canvas' }).click()
  await until(3000, 'parse-json selected', async () => (await page.locator('.react-flow__node.selected').evaluateAll((els) => els.map((e) => e.dataset.id))).join() === 'parse-json')

  // An undeployed change, then roll back to #1: the dialog warns that it goes.
  await editField(page, 'parse-json', '#node-input-name', 'not deployed')
  await page.getByTestId('revision').nth(3).click()
  await details.locator('h3').filter({ hasText: 'Revision #1' }).waitFor()
  await page.getByTestId('rollback').click()
  const dlg = page.getByRole('dialog', { name: 'Roll back to revision #1' })
  await dlg.waitFor()
  await dlg.getByTestId('rollback-change').waitFor()
  assert.equal(await dlg.getByTestId('rollback-change').textContent(), 'Compared with the flows deployed now (#4): 2 changed, 1 removed, 1 moved.')
  assert.match(await dlg.getByTestId('rollback-dirty').textContent(), /not deployed\. Rolling back discards them/)
  assert.equal(await dlg.getByTestId('rollback-confirm').textContent(), 'Discard my changes and roll back')
  // Cancel is focused: Escape closes without rolling back.
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), 'rollback-cancel')
  await shot(page, '43-history-rollback-confirm')
  await page.keyboard.press('Escape')
  await dlg.waitFor({ state: 'detached' })
  assert.equal((await get('flows/revisions?limit=1')).revisions[0].id, 4)

  await page.getByTestId('rollback').click()
  await dlg.getByTestId('rollback-confirm').click()
  await page.getByTestId('notice-success').filter({ hasText: 'Rolled back to revision #1' }).waitFor()

  // The server runs revision 1's flows, saved as revision 5.
  const now = await server.flows()
  assert.deepEqual(now.flows, rev1.flows)
  const rev5 = (await get('flows/revisions?limit=1')).revisions[0]
  assert.equal(rev5.id, 5)
  assert.equal(rev5.deployType, 'nodes')
  assert.ok(rev5.summary.startsWith('rollback to #1'), rev5.summary)
  assert.equal(rev5.summary, 'rollback to #1: 2 changed, 1 removed, 1 moved')

  // The canvas shows revision 1's nodes, undeployed change gone; nothing left to deploy.
  // Fit the view (Ctrl+0): only nodes on screen are in the page.
  await page.keyboard.press('Control+0')
  const flowNodes = rev1.flows.filter((o) => o.type !== 'tab').map((o) => o.id).sort()
  await until(5000, 'the canvas to show revision 1', async () =>
    (await page.locator('.react-flow__node').evaluateAll((els) => els.map((e) => e.dataset.id))).sort().join() === flowNodes.join(),
  )
  assert.equal(await nodeEl(page, 'parse-json').locator('.rn-label').textContent(), 'json')
  assert.equal(await nodeEl(page, 'render-alert').locator('.rn-changed').count(), 0)
  assert.equal(await page.getByTestId('deploy').isDisabled(), true)

  // The list has the new revision on top; #1's rollback button says it runs now.
  await until(5000, 'revision #5 listed', async () => (await rows(page))[0]?.id === '#5')
  const top = (await rows(page))[0]
  assert.deepEqual({ ...top, abs: undefined }, { id: '#5', type: 'nodes', summary: 'rollback to #1: 2 changed, 1 removed, 1 moved', nodes: '6 nodes', rel: 'just now', abs: undefined, picked: false })
  assert.equal(await page.getByTestId('revision').count(), 5)
  assert.equal(await page.getByTestId('rollback').isDisabled(), true)
  // Seen from #1, #5 changes nothing; in the diff with #4, the added debug node is gone from the workspace.
  await page.getByTestId('revision').nth(1).click({ modifiers: ['Shift'] })
  await until(3000, 'the diff of #1 and #4', async () => (await page.getByTestId('diff-summary').textContent()) === '1 added, 2 changed, 1 moved')
  assert.equal((await diffEntries(page)).find((e) => e.kind === 'added').show, false)
  await shot(page, '44-history-after-rollback')
  assert.deepEqual(errors, [])
})

test('history pages with "load more" and follows deploys made elsewhere', async () => {
  const srv = await startServer()
  try {
    const { page, errors } = await newPage(browser)
    // 60 deploys through the API: 61 revisions.
    let flows = (await srv.flows()).flows
    for (let i = 1; i <= 60; i++) {
      flows = flows.map((o) => (o.id === 'alerts-out' ? { ...o, name: 'v' + i } : o))
      await srv.deploy(flows)
    }
    await openEditor(page, srv.url)
    await page.locator('[data-sidebar=history]').click()
    await until(5000, 'the first page', async () => (await page.getByTestId('revision').count()) === 50)
    assert.deepEqual((await rows(page)).slice(0, 2).map((r) => [r.id, r.type, r.summary]), [['#61', 'full', '1 changed'], ['#60', 'full', '1 changed']])
    await page.getByTestId('revisions-more').click()
    await until(5000, 'the second page', async () => (await page.getByTestId('revision').count()) === 61)
    assert.equal((await rows(page))[60].id, '#1')
    assert.equal(await page.getByTestId('revisions-more').count(), 0)

    // A deploy from elsewhere: the websocket's deploy event puts it on top, paging kept.
    await srv.deploy(flows.map((o) => (o.id === 'alerts-out' ? { ...o, name: 'elsewhere' } : o)))
    await until(5000, 'revision #62 listed', async () => (await rows(page))[0]?.id === '#62')
    assert.equal(await page.getByTestId('revision').count(), 62)
    await shot(page, '45-history-paged')
    assert.deepEqual(errors, [])
  } finally {
    await srv.stop()
  }
})

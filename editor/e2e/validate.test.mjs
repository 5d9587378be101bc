// The tray checks a node as the user types, with the checks a deploy runs
// (POST /flows/validate), and shows each problem under its field before any
// deploy: a change rule's bad JSONata, a function's syntax error at its line.
// The function node's form has Setup, On Start, On Message and On Stop tabs,
// and its outputs setting gives the node its ports.
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

const flow = [
  { id: 'vt', type: 'tab', label: 'Validate' },
  { id: 'vc', type: 'change', z: 'vt', name: 'rules', rules: [{ t: 'set', p: 'payload', pt: 'msg', to: 'x', tot: 'str' }], x: 200, y: 120, wires: [[]] },
]

/** What POST /flows/validate answers for flows, asked directly. */
async function validate(flows) {
  const r = await fetch(server.url + 'flows/validate', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ flows }) })
  assert.equal(r.status, 200)
  return r.json()
}

test('a bad JSONata expression in a change rule shows under the rule before any deploy, and goes when fixed', async () => {
  const { rev } = await server.deploy(flow)
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await nodeEl(page, 'vc').dblclick()
  const tray = page.getByTestId('tray')
  await tray.locator('#node-input-rules-0-to-type').selectOption({ label: 'JSONata' })
  await tray.locator('#node-input-rules-0-to').fill('$sum(')

  // The server's own answer for the same node, for the message to expect.
  const bad = [flow[0], { ...flow[1], rules: [{ t: 'set', p: 'payload', pt: 'msg', to: '$sum(', tot: 'jsonata' }] }]
  const { problems } = await validate(bad)
  assert.equal(problems.length, 1)
  assert.equal(problems[0].id, 'vc')
  assert.equal(problems[0].field, 'rules[0].to')
  const entry = tray.getByTestId('list-entry').first()
  const err = entry.locator('.rn-list-error')
  await err.waitFor()
  assert.equal(await err.textContent(), 'To: ' + problems[0].error)
  assert.equal(await entry.locator('.rn-typed.invalid').count(), 1)
  await shot(page, '60-validate-jsonata')

  // Nothing was deployed, and the deploy button has no notice.
  assert.equal((await server.flows()).rev, rev)
  assert.equal(await page.getByTestId('notice-error').count(), 0)

  await tray.locator('#node-input-rules-0-to').fill('$sum([1, 2])')
  await until(5000, 'the problem to go', async () => (await err.count()) === 0)
  assert.equal(await entry.locator('.rn-typed.invalid').count(), 0)
  await tray.getByRole('button', { name: 'Cancel' }).click()
  assert.equal((await server.flows()).rev, rev)
  assert.deepEqual(errors, [])
})

test('the function node: tabs, a syntax error marked at its line before deploy, outputs give the ports', async (t) => {
  const types = await (await fetch(server.url + 'nodes')).json()
  if (!types.some((x) => x.type === 'function')) {
    t.skip('the palette has no function node type yet (it lands on main with issue 14); its editor part is not tested')
    return
  }
  await server.deploy(flow)
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  const ids = async () => page.locator('.rn-node').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))
  const had = new Set(await ids())
  await dragFromPalette(page, 'function', 500, 300)
  const [id] = (await ids()).filter((x) => !had.has(x))
  assert.ok(id, 'a new function node')
  await nodeEl(page, id).dblclick()
  const tray = page.getByTestId('tray')
  await tray.waitFor()

  // Node-RED's tabs, in its order.
  const tabs = tray.getByRole('tab')
  assert.deepEqual(await tabs.allTextContents(), ['Setup', 'On Start', 'On Message', 'On Stop'])
  const tab = (name) => tray.getByRole('tab', { name, exact: true })

  await tab('On Message').click()
  assert.equal(await tab('On Message').getAttribute('aria-selected'), 'true')
  const code = tray.locator('#node-input-func')
  await code.fill('const a = 1;\nlet b = @@;\nreturn msg;')
  const row = tray.locator('.rn-row[data-field="func"]')
  await until(5000, 'the syntax error to be marked at line 2', async () => (await row.locator('.rn-code').getAttribute('data-error-line')) === '2')
  assert.equal(await row.locator('.rn-code-gutter .err').textContent(), '2')
  assert.match(await row.locator('.rn-field-error').textContent(), /\bline 2\b/)
  assert.equal(await row.locator('.rn-code.invalid').count(), 1)
  await shot(page, '61-validate-function')

  // The other tabs hold the other code; the tab with the problem says so.
  await tab('On Start').click()
  await tray.locator('#node-input-initialize').waitFor()
  assert.equal(await code.count(), 0)
  assert.equal(await tab('On Message').locator('.rn-tab-error').count(), 1)
  await tab('On Stop').click()
  await tray.locator('#node-input-finalize').waitFor()
  await tab('On Message').click()
  assert.equal(await code.inputValue(), 'const a = 1;\nlet b = @@;\nreturn msg;')
  assert.equal(await row.locator('.rn-code').getAttribute('data-error-line'), '2')

  await code.fill('const a = 1;\nlet b = a + 1;\nreturn msg;')
  await until(5000, 'the mark to go', async () => (await row.locator('.rn-code').getAttribute('data-error-line')) === null)
  assert.equal(await row.locator('.rn-field-error').count(), 0)
  assert.equal(await tab('On Message').locator('.rn-tab-error').count(), 0)

  // JavaScript is coloured, and the bracket pair at the cursor is marked.
  assert.deepEqual(await row.locator('.tok-kw').allTextContents(), ['const', 'let', 'return'])
  assert.deepEqual(await row.locator('.tok-var').allTextContents(), ['msg'])
  await code.fill('f(a[1], /[)]/g, ")")')
  await code.press('End')
  assert.deepEqual(await row.locator('.tok-match').allTextContents(), ['(', ')'])
  assert.deepEqual(await row.locator('.tok-re').allTextContents(), ['/[)]/g'])
  await code.press('Home')
  await code.press('ArrowRight')
  await code.press('ArrowRight')
  await code.press('ArrowRight')
  await code.press('ArrowRight')
  assert.deepEqual(await row.locator('.tok-match').allTextContents(), ['[', ']'])
  await code.fill('return msg;')

  await tab('Setup').click()
  await tray.locator('#node-input-outputs').fill('3')
  await tray.getByRole('button', { name: 'Done' }).click()
  await tray.waitFor({ state: 'detached' })
  await until(5000, 'three output ports', async () => (await nodeEl(page, id).locator('.react-flow__handle.source').count()) === 3)
  assert.equal(await page.locator('.rn-node.invalid').count(), 0)
  await shot(page, '62-function-outputs')
  assert.deepEqual(errors, [])
})

// The sidebar's conveniences, as a Node-RED user uses them: new debug nodes
// named "debug N", the debug node's on/off button acting on the running flow
// (observed with mosquitto_pub), a burst that keeps its newest messages, the
// context tab (values a running function node set, refreshed and deleted),
// an example flow imported from the menu, and a selection saved to the
// library and inserted again.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { dragFromPalette, launch, newPage, nodeEl, openEditor, publish, shot, sleep, startServer, until, within } from './helpers.mjs'

let browser, server
before(async () => {
  browser = await launch()
  server = await startServer()
})
after(async () => {
  await browser?.close()
  await server?.stop()
})

const menu = async (page, label) => {
  await page.getByTestId('main-menu').click()
  await page.getByRole('menuitem', { name: label }).click()
}
const debugValues = async (page) => (await page.getByTestId('debug-value').allTextContents()).map((t) => t.trim())
const nodeLabels = (page) => page.locator('.react-flow__node .rn-label').allTextContents()

test('debug nodes are named debug N; the button turns the running node off and on without a deploy', async () => {
  await server.deploy([
    { id: 'st', type: 'tab', label: 'Side', disabled: false, info: '' },
    { id: 'sin', type: 'mqtt-in', z: 'st', name: 'side in', topic: 'side/t', qos: '1', datatype: 'utf8', broker: '', x: 140, y: 100, wires: [['sdbg']] },
    { id: 'sdbg', type: 'debug', z: 'st', name: 'debug 2', active: true, tosidebar: true, console: false, tostatus: false, complete: 'false', x: 380, y: 100, wires: [] },
  ])
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('[data-sidebar="debug"]').click()

  // Names as Node-RED 4 gives them: one more than the highest "debug N" of the debug nodes.
  await dragFromPalette(page, 'debug', 500, 300)
  await dragFromPalette(page, 'debug', 500, 400)
  await until(3000, 'two new debug nodes', async () => (await page.locator('.react-flow__node .rn-node[data-type="debug"]').count()) === 3)
  assert.deepEqual((await nodeLabels(page)).sort(), ['debug 2', 'debug 3', 'debug 4', 'side in'])

  // The deployed debug node shows what is published.
  const before = (await server.flows()).rev
  await publish(server.mqttPort, 'side/t', 'one')
  await until(5000, 'message one', async () => (await debugValues(page)).includes('"one"'))

  // Off: the running node shows nothing, and nothing was deployed.
  const toggle = nodeEl(page, 'sdbg').getByTestId('debug-toggle')
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true')
  await toggle.click()
  await page.getByText('Successfully deactivated: debug 2').waitFor()
  assert.equal(await toggle.getAttribute('aria-pressed'), 'false')
  assert.equal(await nodeEl(page, 'sdbg').locator('.rn-changed').count(), 1, 'the node is marked changed: the next deploy saves it')
  await shot(page, 'sidebar-01-debug-off')
  await publish(server.mqttPort, 'side/t', 'two')
  await sleep(800)
  assert.ok(!(await debugValues(page)).includes('"two"'), 'an inactive debug node shows nothing')
  assert.equal((await server.flows()).rev, before, 'the button deployed nothing')

  // On again: the node is no longer changed, and shows messages.
  await toggle.click()
  await page.getByText('Successfully activated: debug 2').waitFor()
  assert.equal(await toggle.getAttribute('aria-pressed'), 'true')
  // Drawn as on while the mouse is still over it.
  assert.equal(await toggle.evaluate((e) => getComputedStyle(e).backgroundColor), 'rgb(135, 169, 128)')
  assert.equal(await nodeEl(page, 'sdbg').locator('.rn-changed').count(), 0)
  await publish(server.mqttPort, 'side/t', 'three')
  await until(5000, 'message three', async () => (await debugValues(page)).includes('"three"'))
  assert.deepEqual(await debugValues(page), ['"one"', '"three"'])
  await shot(page, 'sidebar-02-debug-names')
  assert.deepEqual(errors, [])
})

test('a burst of 3,000 debug messages shows the newest and says how many earlier ones were dropped', async () => {
  await server.deploy([
    { id: 'bt', type: 'tab', label: 'Burst', disabled: false, info: '' },
    { id: 'bin', type: 'mqtt-in', z: 'bt', name: 'burst', topic: 'burst/#', qos: '0', datatype: 'json', broker: '', x: 150, y: 100, wires: [['bdbg']] },
    { id: 'bdbg', type: 'debug', z: 'bt', name: 'burst debug', active: true, tosidebar: true, console: false, tostatus: false, complete: 'payload.seq', x: 380, y: 100, wires: [] },
  ])
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await page.locator('[data-sidebar="debug"]').click()
  const total = 3000
  let lines = ''
  for (let i = 0; i < total; i++) lines += `{"seq":${i}}\n`
  const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(server.mqttPort), '-t', 'burst/a', '-l', '-q', '0'], { stdio: ['pipe', 'ignore', 'pipe'] })
  const exited = new Promise((res) => pub.once('exit', res))
  try {
    pub.stdin.end(lines)
    await within(10_000, 'mosquitto_pub to finish', () => exited)
  } finally {
    if (pub.exitCode === null) process.kill(pub.pid, 'SIGTERM')
  }
  const read = async () => {
    const shown = Number((await page.getByTestId('debug-total').textContent()).match(/^(\d+)/)[1])
    const d = await page.getByTestId('debug-dropped').textContent().catch(() => '')
    const m = d.match(/([\d,]+) earlier messages? dropped/)
    return { shown, dropped: m ? Number(m[1].replace(/,/g, '')) : 0, text: d.trim() }
  }
  await until(10_000, `${total} messages accounted for`, async () => {
    const { shown, dropped } = await read()
    return shown + dropped === total
  })
  const { shown, dropped, text } = await read()
  const seqs = (await debugValues(page)).map(Number)
  console.log(`burst: ${shown} shown, ${text}`)
  assert.ok(dropped > 0 && shown < total)
  assert.equal(text, `· ${dropped.toLocaleString('en-US')} earlier messages dropped`)
  assert.equal(seqs.at(-1), total - 1, 'the newest message is shown')
  for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], `order at ${i}`)
  await shot(page, 'sidebar-03-burst')
  assert.deepEqual(errors, [])
})

test('the context tab lists node, flow and global context set by a function node, refreshes, and deletes a key', async () => {
  await server.deploy([
    { id: 'ct', type: 'tab', label: 'Context', disabled: false, info: '' },
    { id: 'cin', type: 'mqtt-in', z: 'ct', name: 'ctx in', topic: 'ctx/t', qos: '1', datatype: 'auto-detect', broker: '', x: 140, y: 100, wires: [['cfn']] },
    {
      id: 'cfn', type: 'function', z: 'ct', name: 'counter', outputs: 1, x: 360, y: 100, wires: [[]],
      func: [
        "const n = (context.get('count') || 0) + 1",
        "context.set('count', n)",
        "flow.set('last', msg.payload)",
        "global.set('total', n, 'persistent')",
        "global.set('scratch', { note: 'delete me', n })",
        'return msg',
      ].join('\n'),
    },
  ])
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await publish(server.mqttPort, 'ctx/t', '{"t":21.5}')
  await publish(server.mqttPort, 'ctx/t', '{"t":22}')
  await until(5000, 'the function to run twice', async () => {
    const r = await fetch(server.url + 'context/node/cfn/count')
    return r.ok && (await r.json()).msg === 2
  })
  await page.locator('[data-sidebar="context"]').click()
  const row = (scope, key) => page.getByTestId(`context-${scope}`).locator(`[data-testid="context-row"][data-key="${key}"]`)
  // No node selected: the node section says so; flow and global are listed.
  await page.getByText('Select a node to see its context.').waitFor()
  await row('flow', 'last').waitFor()
  assert.match(await row('flow', 'last').textContent(), /last.*Object.*t: 22/)
  assert.equal(await row('global', 'total').getAttribute('data-store'), 'persistent')
  assert.match(await row('global', 'total').textContent(), /^total\s*persistent\s*number.*2$/)
  assert.match(await row('global', 'scratch').textContent(), /scratch.*Object/)

  // Select the function node: its context shows.
  await nodeEl(page, 'cfn').click()
  await row('node', 'count').waitFor()
  assert.match(await row('node', 'count').textContent(), /^count\s*number.*2$/)
  await shot(page, 'sidebar-04-context')

  // Refresh after another message.
  await publish(server.mqttPort, 'ctx/t', '{"t":23}')
  await until(5000, 'the third run', async () => (await (await fetch(server.url + 'context/node/cfn/count')).json()).msg === 3)
  assert.match(await row('node', 'count').textContent(), /2$/)
  await page.getByTestId('context-refresh-node').click()
  await until(3000, 'the refreshed count', async () => /3$/.test(await row('node', 'count').textContent()))

  // Delete with a confirmation: "no" keeps it, "yes" deletes it on the server.
  await row('global', 'scratch').getByTestId('context-delete').click()
  await row('global', 'scratch').getByRole('button', { name: 'no', exact: true }).click()
  assert.equal(await row('global', 'scratch').count(), 1)
  await row('global', 'scratch').getByTestId('context-delete').click()
  await shot(page, 'sidebar-05-context-confirm')
  await row('global', 'scratch').getByTestId('context-delete-yes').click()
  await until(3000, 'the row to go', async () => (await row('global', 'scratch').count()) === 0)
  const g = await (await fetch(server.url + 'context/global')).json()
  assert.deepEqual(Object.keys(g.memory), [])
  assert.deepEqual(g.persistent, { total: { msg: 3, format: 'number' } })
  assert.deepEqual(errors, [])
})

test('an example flow is imported from the menu', async () => {
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await menu(page, 'Import → Examples…')
  const list = page.getByTestId('examples-list')
  await list.getByTestId('example').first().waitFor()
  const names = await list.getByTestId('example').evaluateAll((els) => els.map((e) => e.getAttribute('data-name')))
  assert.ok(names.includes('seed-flow') && names.includes('rules-flow') && names.includes('sequences-flow'), names.join(', '))
  await shot(page, 'sidebar-06-examples')
  await list.locator('[data-name="rules-flow"]').click()
  await page.getByText('Imported example “Rules”: 6 nodes').waitFor()
  assert.equal(await page.locator('.rn-tab.active').textContent(), 'Rules')
  await until(3000, 'the example on the canvas', async () => (await page.locator('.react-flow__node').count()) === 6)
  // Imported as copies: a second import gives a second tab.
  await menu(page, 'Import → Examples…')
  await page.getByTestId('examples-list').locator('[data-name="rules-flow"]').click()
  await until(3000, 'a second Rules tab', async () => (await page.locator('.rn-tab', { hasText: 'Rules' }).count()) === 2)
  assert.deepEqual(errors, [])
})

test('a selection is saved to the library and inserted again', async () => {
  await server.deploy([
    { id: 'lt', type: 'tab', label: 'Lib', disabled: false, info: '' },
    { id: 'lin', type: 'mqtt-in', z: 'lt', name: 'lib in', topic: 'lib/t', qos: '1', datatype: 'utf8', broker: '', x: 140, y: 100, wires: [['ldbg']] },
    { id: 'ldbg', type: 'debug', z: 'lt', name: 'lib debug', active: true, tosidebar: true, console: false, tostatus: false, complete: 'false', x: 380, y: 100, wires: [] },
    { id: 'lother', type: 'comment', z: 'lt', name: 'not saved', x: 140, y: 200, wires: [] },
  ])
  const { page, errors } = await newPage(browser)
  await openEditor(page, server.url)
  await nodeEl(page, 'lin').click()
  await nodeEl(page, 'ldbg').click({ modifiers: ['Control'] })
  assert.equal(await page.locator('.react-flow__node.selected').count(), 2)
  await menu(page, 'Export → Save to library…')
  const name = page.getByTestId('library-name')
  // Hostile names are refused before they are sent.
  await name.fill('../etc/passwd')
  assert.equal(await page.getByTestId('library-save').isDisabled(), true)
  await page.getByText('Letters, digits, spaces, dots, dashes and underscores; begin with a letter or digit').waitFor()
  await name.fill('my sensors')
  await shot(page, 'sidebar-07-save-library')
  await page.getByTestId('library-save').click()
  await page.getByText('Saved to the library: my sensors').waitFor()
  const file = join(server.data, 'lib', 'flows', 'my sensors.json')
  assert.ok(existsSync(file))
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).map((o) => o.id).sort(), ['ldbg', 'lin'])

  // Insert it into a new flow.
  await page.getByRole('button', { name: 'Add flow' }).click()
  assert.equal(await page.locator('.react-flow__node').count(), 0)
  await menu(page, 'Import → Library…')
  const entry = page.getByTestId('library-list').locator('[data-name="my sensors"]')
  await entry.waitFor()
  await shot(page, 'sidebar-08-library')
  await entry.click()
  await until(3000, 'the entry on the canvas', async () => (await page.locator('.react-flow__node').count()) === 2)
  assert.deepEqual((await nodeLabels(page)).sort(), ['lib debug', 'lib in'])
  const ids = await page.locator('.react-flow__node').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')))
  assert.ok(!ids.includes('lin') && !ids.includes('ldbg'), 'inserted as copies with new ids')
  assert.equal(await page.locator('.react-flow__edge').count(), 1, 'with its wire')
  await shot(page, 'sidebar-09-inserted')
  assert.deepEqual(errors, [])
})

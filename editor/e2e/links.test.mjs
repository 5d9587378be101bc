// Link nodes as data (editor/web/src/links.ts, flowjson.ts), without the
// browser: both sides of a link kept in step, what a link node may link to,
// the dashed lines a tab draws, and links that follow new ids on paste.
// Bundled with esbuild (Vite's own).
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { repo } from './paths.mjs'

let m, dir
before(async () => {
  mkdirSync(join(repo, 'editor', 'e2e', 'artifacts'), { recursive: true })
  dir = mkdtempSync(join(repo, 'editor', 'e2e', 'artifacts', 'links-'))
  const entry = join(dir, 'entry.ts')
  const src = join(repo, 'editor', 'web', 'src')
  writeFileSync(entry, `export * from ${JSON.stringify(join(src, 'links.ts'))}\nexport { importObjs } from ${JSON.stringify(join(src, 'flowjson.ts'))}\n`)
  const out = join(dir, 'links.mjs')
  await build({ entryPoints: [entry], bundle: true, platform: 'node', format: 'esm', logLevel: 'warning', outfile: out })
  m = await import(pathToFileURL(out).href)
})
after(() => dir && rmSync(dir, { recursive: true, force: true }))

const doc = () => [
  { id: 'ta', type: 'tab', label: 'A' },
  { id: 'tb', type: 'tab', label: 'B' },
  { id: 'sf', type: 'subflow', name: 'S', in: [], out: [] },
  { id: 'lo', type: 'link out', z: 'ta', mode: 'link', links: ['li1'], x: 1, y: 1, wires: [] },
  { id: 'li1', type: 'link in', z: 'ta', links: ['lo'], x: 1, y: 1, wires: [[]] },
  { id: 'li2', type: 'link in', z: 'tb', links: [], x: 1, y: 1, wires: [[]] },
  { id: 'li3', type: 'link in', z: 'sf', links: [], x: 1, y: 1, wires: [[]] },
  { id: 'call', type: 'link call', z: 'ta', links: ['li2'], linkType: 'static', x: 1, y: 1, wires: [[]] },
]
const byId = (items) => new Map(items.map((o) => [o.id, o]))

test('a link out edited: the link in nodes it adds list it, the ones it drops do not; objects not touched stay the same', () => {
  const items = doc()
  const prev = items[3]
  const next = { ...prev, links: ['li2'] }
  const out = m.syncLinks(items.map((o) => (o.id === 'lo' ? next : o)), prev, next)
  const b = byId(out)
  assert.deepEqual(b.get('li1').links, [])
  assert.deepEqual(b.get('li2').links, ['lo'])
  assert.equal(b.get('li3'), items[6])
  assert.equal(b.get('call'), items[7])
  // Return mode sends to no link in: li2 lets go.
  const ret = { ...next, mode: 'return' }
  assert.deepEqual(byId(m.syncLinks(out, next, ret)).get('li2').links, [])
  // Nothing changed: the same array back.
  assert.equal(m.syncLinks(items, prev, { ...prev }), items)
})

test('a link in edited: the link out follows; a link call is one-sided', () => {
  const items = doc()
  const next = { ...items[4], links: [] }
  assert.deepEqual(byId(m.syncLinks(items, items[4], next)).get('lo').links, [])
  const call = { ...items[7], links: ['li1'] }
  assert.equal(m.syncLinks(items, items[7], call), items)
})

test('candidates: nodes on tabs for a node on a tab, the same subflow for one in a subflow', () => {
  const items = doc()
  assert.deepEqual(m.linkCandidates(items, items[3]).map((o) => o.id), ['li1', 'li2'])
  assert.deepEqual(m.linkCandidates(items, items[4]).map((o) => o.id), ['lo'])
  assert.deepEqual(m.linkCandidates(items, { id: 'x', type: 'link out', z: 'sf' }).map((o) => o.id), ['li3'])
})

test('lines: linked nodes on the tab, once each, dynamic link calls none', () => {
  const items = doc()
  assert.deepEqual(m.linkPairs(items, 'ta'), [['lo', 'li1']])
  items.push({ id: 'c2', type: 'link call', z: 'ta', links: ['li1'], linkType: 'static', x: 1, y: 1, wires: [[]] })
  items.push({ id: 'c3', type: 'link call', z: 'ta', links: ['li1'], linkType: 'dynamic', x: 1, y: 1, wires: [[]] })
  assert.deepEqual(m.linkPairs(items, 'ta'), [['lo', 'li1'], ['c2', 'li1']])
  assert.deepEqual(m.linkPairs(items, 'tb'), [])
})

test('pasted link nodes stay linked under their new ids; links to nodes not pasted are kept', () => {
  const items = doc()
  const clip = [items[3], items[4], items[7]]
  const r = m.importObjs(items, clip, { mode: 'copy', tab: 'tb', toRunnel: new Map() })
  const b = byId(r.items)
  const [lo, li1, call] = r.nodes.map((id) => b.get(id))
  assert.notEqual(lo.id, 'lo')
  assert.deepEqual(lo.links, [li1.id])
  assert.deepEqual(li1.links, [lo.id])
  assert.deepEqual(call.links, ['li2'])
})

test('deleted link nodes leave the links of the others; objects not linked to them stay the same', () => {
  const items = doc()
  const out = m.dropLinksTo(items, new Set(['li1', 'li2']))
  const b = byId(out)
  assert.deepEqual(b.get('lo').links, [])
  assert.deepEqual(b.get('call').links, [])
  assert.equal(b.get('li1'), items[4])
  assert.equal(b.get('li3'), items[6])
})

test('stubs: the link nodes of a tab that reach or are reached from other tabs, with those nodes', () => {
  const items = [
    ...doc(),
    { id: 'lo2', type: 'link out', z: 'tb', mode: 'link', links: ['li1', 'li2'], x: 1, y: 1, wires: [] },
    { id: 'ret', type: 'link out', z: 'tb', mode: 'return', links: ['li1'], x: 1, y: 1, wires: [] },
    { id: 'dyn', type: 'link call', z: 'tb', links: ['li1'], linkType: 'dynamic', x: 1, y: 1, wires: [[]] },
  ]
  // li1 lists only lo; lo2 (on B) lists li1 without li1 listing it back: still a link, as the runtime sees it.
  assert.deepEqual(m.linkStubs(items, 'ta'), [
    { id: 'li1', side: 'in', targets: ['lo2'] },
    { id: 'call', side: 'out', targets: ['li2'] },
  ])
  assert.deepEqual(m.linkStubs(items, 'tb'), [
    { id: 'li2', side: 'in', targets: ['call'] },
    { id: 'lo2', side: 'out', targets: ['li1'] },
  ])
  // A subflow's link nodes link only inside it: no stubs.
  assert.deepEqual(m.linkStubs(items, 'sf'), [])
})

// Subflows as data (editor/web/src/subflowdoc.ts), without the browser:
// Node-RED's Selection to Subflow with groups, outputs added and removed
// with instances' wires following, the ports' wiring, and a definition
// deleted with its instances. Bundled with esbuild (Vite's own).
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { pathToFileURL } from 'node:url'
import { build } from 'esbuild'
import { repo } from './paths.mjs'

let m, dir
before(async () => {
  mkdirSync(join(repo, 'editor', 'e2e', 'artifacts'), { recursive: true })
  dir = mkdtempSync(join(repo, 'editor', 'e2e', 'artifacts', 'subflowdoc-'))
  const out = join(dir, 'subflowdoc.mjs')
  await build({ entryPoints: [join(repo, 'editor', 'web', 'src', 'subflowdoc.ts')], bundle: true, platform: 'node', format: 'esm', logLevel: 'warning', outfile: out })
  m = await import(pathToFileURL(out).href)
})
after(() => dir && rmSync(dir, { recursive: true, force: true }))

const size = () => ({ w: 100, h: 30, buttonLeft: false, buttonRight: false })
const node = (id, x, y, wires = [[]], extra = {}) => ({ id, type: 'function', z: 't', ...extra, x, y, wires })
const byId = (items) => new Map(items.map((o) => [o.id, o]))

test('selection to subflow inside a group: the instance joins the group, the nodes leave it', () => {
  const items = [
    { id: 't', type: 'tab' },
    { id: 'g', type: 'group', z: 't', nodes: ['src', 'a', 'b'], x: 0, y: 0, w: 0, h: 0 },
    node('src', 100, 100, [['a']], { g: 'g' }),
    node('a', 300, 100, [['b']], { g: 'g' }),
    node('b', 460, 140, [['c'], ['c', 'd']], { g: 'g' }),
    node('c', 640, 100),
    node('d', 640, 200),
  ]
  const r = m.selectionToSubflow(items, 't', new Set(['a', 'b']), size)
  assert.equal(r.error, undefined)
  const o = byId(r.items)
  const def = r.def
  const inst = o.get(r.instance.id)
  assert.equal(inst.g, 'g')
  assert.deepEqual(o.get('g').nodes, ['src', r.instance.id])
  assert.equal('g' in o.get('a'), false)
  // Two outputs, one per port of b wired out, in port order for one node.
  assert.deepEqual(def.out.map((p) => p.wires), [[{ id: 'b', port: 0 }], [{ id: 'b', port: 1 }]])
  assert.deepEqual(inst.wires, [['c'], ['c', 'd']])
  assert.deepEqual(o.get('src').wires, [[r.instance.id]])
  // The instance at the centre of the nodes' box, snapped: (250..510, 85..155).
  assert.deepEqual([inst.x, inst.y], [380, 120])
  // Keys as Node-RED writes an instance, g after z.
  assert.deepEqual(Object.keys(inst), ['id', 'type', 'z', 'g', 'name', 'env', 'x', 'y', 'wires'])
})

test('selections Node-RED refuses', () => {
  const items = [
    { id: 't', type: 'tab' },
    { id: 'g1', type: 'group', z: 't', nodes: ['a'] },
    { id: 'g2', type: 'group', z: 't', nodes: ['b'] },
    node('x', 0, 0, [['a']]), node('y', 0, 50, [['b']]),
    node('a', 200, 0, [[]], { g: 'g1' }), node('b', 200, 50, [[]], { g: 'g2' }),
  ]
  assert.equal(m.selectionToSubflow(items, 't', new Set(['a', 'b']), size).error, 'Cannot create a subflow across multiple groups')
  const loose = items.map((o) => { const { g, ...r } = o; return r })
  assert.equal(m.selectionToSubflow(loose, 't', new Set(['a', 'b']), size).error, 'Cannot create subflow: multiple inputs to selection')
  assert.equal(m.selectionToSubflow(loose, 't', new Set(), size).error, 'No nodes selected')
})

test('outputs added and removed: instances keep the wires of the outputs that stay', () => {
  const def = { id: 'S', type: 'subflow', in: [{ x: 0, y: 0, wires: [{ id: 'n' }] }], out: [{ x: 1, y: 1, wires: [{ id: 'n', port: 0 }] }, { x: 1, y: 2, wires: [{ id: 'S', port: 0 }] }] }
  const items = [def, { id: 'n', type: 'function', z: 'S', x: 0, y: 0, wires: [[]] }, { id: 'i', type: 'subflow:S', z: 't', x: 0, y: 0, wires: [['p'], ['q']] }]
  // The canvas's wires: in to n, n to out 1, in straight to out 2.
  assert.deepEqual(m.portEdges(def), [
    { source: 'S~in', port: 0, target: 'n' },
    { source: 'n', port: 0, target: 'S~out0' },
    { source: 'S~in', port: 0, target: 'S~out1' },
  ])
  let r = m.removeFromSubflows(items, new Set(['S~out0']), [])
  assert.deepEqual(byId(r).get('S').out.map((p) => p.wires), [[{ id: 'S', port: 0 }]])
  assert.deepEqual(byId(r).get('i').wires, [['q']])
  r = m.setOutputs(r, 'S', 3)
  assert.deepEqual(byId(r).get('i').wires, [['q'], [], []])
  assert.equal(byId(r).get('S').out.length, 3)
  // Wiring n to the new third output, then cutting the in-to-out wire.
  r = m.connectPort(r, 'n', 0, 'S~out2')
  assert.deepEqual(byId(r).get('S').out[2].wires, [{ id: 'n', port: 0 }])
  r = m.removeFromSubflows(r, new Set(), [{ source: 'S~in', port: 0, target: 'S~out0' }])
  assert.deepEqual(byId(r).get('S').out[0].wires, [])
  // No input: wires into instances go.
  const withSrc = [...r, { id: 'src', type: 'inject', z: 't', x: 0, y: 0, wires: [['i', 'k']] }]
  const noIn = m.setInputs(withSrc, 'S', 0)
  assert.deepEqual(byId(noIn).get('S').in, [])
  assert.deepEqual(byId(noIn).get('src').wires, [['k']])
})

test('deleting a definition takes its nodes, its instances and wires to them', () => {
  const items = [
    { id: 't', type: 'tab' },
    { id: 'S', type: 'subflow', in: [], out: [] },
    { id: 'n', type: 'function', z: 'S', x: 0, y: 0, wires: [[]] },
    { id: 'i', type: 'subflow:S', z: 't', x: 0, y: 0, wires: [] },
    { id: 'src', type: 'inject', z: 't', x: 0, y: 0, wires: [['i', 'k']] },
    { id: 'g', type: 'group', z: 't', nodes: ['i', 'src'] },
  ]
  const r = byId(m.deleteSubflow(items, 'S'))
  assert.deepEqual([...r.keys()], ['t', 'src', 'g'])
  assert.deepEqual(r.get('src').wires, [['k']])
  assert.deepEqual(r.get('g').nodes, ['src'])
})

test('subflows an export takes along: nested ones too, with their nodes', () => {
  const all = [
    { id: 'A', type: 'subflow' }, { id: 'a1', type: 'function', z: 'A' },
    { id: 'B', type: 'subflow' }, { id: 'b1', type: 'subflow:A', z: 'B' },
    { id: 'C', type: 'subflow' },
    { id: 'i', type: 'subflow:B', z: 't' },
  ]
  assert.deepEqual(m.usedSubflows([all[5]], all).map((o) => o.id), ['A', 'a1', 'B', 'b1'])
})

// Checks the whole working document as a deploy would, a moment after each
// edit (POST /flows/validate, which deploys nothing), so that the canvas
// marks every node with a problem before any deploy: Node-RED's red
// triangle, with the problems in its tooltip. The server's checks are the
// only checks: the editor has none of its own.
import * as api from './api'
import { canDeploy } from './auth'
import { deepEqual } from './flowjson'
import { getState, setState, subscribe } from './store'
import type { FlowObj, Problem } from './types'

/** How long after the last edit the document is checked. */
export const checkDelay = 400

let timer: ReturnType<typeof setTimeout> | undefined
let lastItems: FlowObj[] | undefined
let seq = 0
/**
 * The nodes as they were when the last deploy was rejected: a deploy's
 * problems that checking cannot find (a port already in use when the
 * node starts) stay on their node while it is unchanged.
 */
let rejected: { problems: Problem[]; nodes: Map<string, FlowObj> } = { problems: [], nodes: new Map() }

/** Starts checking the document after every edit (once; later calls do nothing). */
export function startChecking() {
  if (started) return
  started = true
  subscribe(() => {
    const s = getState()
    if (s.problems !== rejected.problems) {
      rejected = { problems: s.problems, nodes: new Map(s.items.map((o) => [o.id, o])) }
    }
    if (!s.loaded || s.items === lastItems) return
    lastItems = s.items
    clearTimeout(timer)
    timer = setTimeout(() => void check(), checkDelay)
  })
}
let started = false

/** Problems grouped by node id, with the arrays of prev kept where they are equal (the canvas redraws less). */
export function byNode(problems: Problem[], prev: Map<string, Problem[]>): Map<string, Problem[]> {
  const m = new Map<string, Problem[]>()
  for (const p of problems) {
    if (!p.id) continue
    const l = m.get(p.id)
    if (l) l.push(p)
    else m.set(p.id, [p])
  }
  for (const [id, l] of m) {
    const old = prev.get(id)
    if (old && deepEqual(old, l)) m.set(id, old)
  }
  return m
}

/** Whether a check is waiting for its answer, and whether the document changed meanwhile. */
let inFlight = false
let again = false

/**
 * Checks the document now; answers for a document that has changed since
 * are dropped. One check at a time (a large document takes the server a
 * moment): an edit meanwhile checks again once the answer is in.
 */
export async function check() {
  // A read-only user cannot deploy, and the server does not validate for one.
  if (!canDeploy()) return
  if (inFlight) {
    again = true
    return
  }
  const items = getState().items
  const my = ++seq
  let r: api.Validation | null
  inFlight = true
  try {
    r = await api.validateFlows(items)
  } catch {
    return
  } finally {
    inFlight = false
    if (again || getState().items !== items) {
      again = false
      clearTimeout(timer)
      timer = setTimeout(() => void check(), checkDelay)
    }
  }
  const s = getState()
  if (!r || my !== seq || s.items !== items) return
  const found = [...r.problems]
  const ids = new Set(found.map((p) => p.id))
  for (const p of rejected.problems) {
    if (!p.id || ids.has(p.id)) continue
    const o = items.find((x) => x.id === p.id)
    if (o && o === rejected.nodes.get(p.id)) found.push(p)
  }
  const problemMap = byNode(found, s.problemMap)
  if (problemMap.size === s.problemMap.size && [...problemMap].every(([id, l]) => s.problemMap.get(id) === l)) return
  setState({ problemMap })
}

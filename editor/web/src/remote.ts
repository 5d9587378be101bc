// Deploys this editor session did not make (another browser, another tab, a
// script): one notice that says when and how much changed. An editor with
// nothing undeployed takes the new flows at once (it has nothing to lose);
// one with changes offers Merge (theirs and mine; where both changed a node,
// mine wins) or Reload (theirs; mine are discarded). Dismiss leaves it be:
// the next deploy from here meets the conflict dialog.
import * as api from './api'
import { deepEqual, isTab, merge } from './flowjson'
import { commit, getState, isDirty, notify, reloadFromServer, setState, type Notice } from './store'
import type { FlowObj } from './types'

/** Who made a deploy, as the deploy event says (editor/session.go). */
export interface DeployBy {
  session?: string
  user?: string
}

/** How many nodes (and flows, that is tabs) differ between two documents. */
export function countChanges(before: FlowObj[], after: FlowObj[]): { nodes: number; flows: number } {
  const b = new Map(before.map((o) => [o.id, o]))
  const a = new Set<string>()
  let nodes = 0
  let flows = 0
  const bump = (o: FlowObj) => (isTab(o) ? flows++ : nodes++)
  for (const o of after) {
    a.add(o.id)
    const p = b.get(o.id)
    if (!p || !deepEqual(p, o)) bump(o)
  }
  for (const o of before) if (!a.has(o.id)) bump(o)
  return { nodes, flows }
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`

/** "3 nodes changed", "1 node and 1 flow changed", "nothing changed". */
export function changesText(c: { nodes: number; flows: number }): string {
  const parts = []
  if (c.nodes) parts.push(plural(c.nodes, 'node'))
  if (c.flows) parts.push(plural(c.flows, 'flow'))
  return parts.length ? parts.join(' and ') + ' changed' : 'nothing changed'
}

/** The local time as HH:MM. */
export function hhmm(d: Date): string {
  return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0')
}

async function fetchRemote(): Promise<{ rev: string; items: FlowObj[] }> {
  const r = await api.getFlows()
  const names = getState().names
  const items = r.flows.map((o) => {
    const t = names.toRunnel.get(o.type)
    return t ? { ...o, type: t } : o
  })
  return { rev: r.rev, items }
}

const tag = 'remote-deploy'
let seq = 0

/** Shows the notice (replacing an earlier one). */
function show(text: string, actions: Notice['actions']) {
  const s = getState()
  const n: Notice = { id: -++seq, kind: 'info', text, tag, actions }
  setState({ notices: [...s.notices.filter((x) => x.tag !== tag), n] })
}

export function dismissRemote() {
  setState({ notices: getState().notices.filter((x) => x.tag !== tag) })
}

/** Takes the server's flows into the editor's changes (the old Merge of the "Flows updated" dialog). */
export async function mergeRemote() {
  dismissRemote()
  const remote = await fetchRemote()
  const s = getState()
  const m = merge(s.deployed, s.items, remote.items)
  const tab = m.items.some((o) => o.id === s.tab && isTab(o)) ? s.tab : m.items.find(isTab)?.id ?? s.tab
  commit(m.items, { deployed: remote.items, deployedMap: new Map(remote.items.map((o) => [o.id, o])), rev: remote.rev, dialog: null, tab })
  if (m.conflicts) notify('info', `Merged; ${plural(m.conflicts, 'node')} changed on both sides kept your version`)
}

async function reloadRemote() {
  dismissRemote()
  await reloadFromServer()
}

/**
 * A deploy that was not this session's: by is who made it (from the deploy
 * event), undefined when the editor only found the server's revision
 * changed (after the connection came back).
 */
export async function remoteDeploy(by: DeployBy | undefined) {
  const at = hhmm(new Date())
  let remote: { rev: string; items: FlowObj[] }
  try {
    remote = await fetchRemote()
  } catch {
    return
  }
  const s = getState()
  if (remote.rev === s.rev) return
  const what = changesText(countChanges(s.deployed, remote.items))
  const head = by
    ? `Flows were deployed by another session${by.user ? ` (${by.user})` : ''} at ${at} — ${what}`
    : `The flows on the server changed while the editor was disconnected (seen at ${at}) — ${what}`
  const dismiss = { label: 'Dismiss', run: dismissRemote, testid: 'remote-dismiss' }
  if (!isDirty()) {
    await reloadFromServer()
    show(`${head}; the editor reloaded them.`, [dismiss])
    return
  }
  show(`${head}. You have changes that are not deployed.`, [
    { label: 'Merge', run: mergeRemote, primary: true, testid: 'remote-merge', title: 'Take their changes into yours (where both changed a node, yours wins)' },
    { label: 'Reload', run: reloadRemote, testid: 'remote-reload', title: 'Discard your changes and load the flows the server runs' },
    dismiss,
  ])
}

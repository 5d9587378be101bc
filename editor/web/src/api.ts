// The admin API (editor/api.go), Node-RED's v2 shapes.
import { apiFetch } from './auth'
import { sessionHeader } from './session'
import type { DeployType, FlowObj, NodeType, Problem } from './types'

export async function getNodes(): Promise<NodeType[]> {
  const r = await apiFetch('nodes', { headers: { Accept: 'application/json' } })
  if (!r.ok) throw new Error(`GET /nodes: ${r.status}`)
  return r.json()
}

export async function getFlows(): Promise<{ rev: string; flows: FlowObj[] }> {
  const r = await apiFetch('flows', { headers: { 'Node-RED-API-Version': 'v2', Accept: 'application/json' } })
  if (!r.ok) throw new Error(`GET /flows: ${r.status}`)
  const body = await r.json()
  if (Array.isArray(body)) return { rev: '', flows: body }
  return { rev: body.rev ?? '', flows: body.flows ?? [] }
}

export type DeployResult =
  | { ok: true; rev: string; warnings: Problem[] }
  | { ok: false; conflict: true }
  | { ok: false; conflict?: false; message: string; problems: Problem[] }

export async function postFlows(flows: FlowObj[], rev: string | undefined, type: DeployType): Promise<DeployResult> {
  const body = rev === undefined ? { flows } : { rev, flows }
  const r = await apiFetch('flows', {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'Node-RED-API-Version': 'v2',
      'Node-RED-Deployment-Type': type,
      ...sessionHeader,
    },
    body: JSON.stringify(body),
  })
  if (r.ok) {
    const j = await r.json().catch(() => ({}))
    // A deploy that succeeds may still drop things (a wire to a missing
    // node, a subflow port wired outside it): the server says so in warnings.
    const warnings: Problem[] = Array.isArray(j.warnings)
      ? j.warnings.map((w: { id?: string; type?: string; field?: string; line?: number; warning?: string }) => ({ id: w.id, type: w.type, field: w.field, line: w.line, error: String(w.warning ?? '') }))
      : []
    return { ok: true, rev: j.rev ?? '', warnings }
  }
  if (r.status === 409) return { ok: false, conflict: true }
  const j = await r.json().catch(() => null)
  return {
    ok: false,
    message: j?.message ?? `deploy failed: HTTP ${r.status}`,
    problems: Array.isArray(j?.problems) ? j.problems : [],
  }
}

export interface Validation {
  problems: Problem[]
  warnings: { id?: string; type?: string; field?: string; line?: number; warning: string }[]
}

/** Checks flows as a deploy would, deploying nothing (POST /flows/validate); null when the server will not (a read-only user). */
export async function validateFlows(flows: FlowObj[]): Promise<Validation | null> {
  const r = await apiFetch('flows/validate', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ flows }),
  })
  if (!r.ok) return null
  const j = await r.json()
  return { problems: Array.isArray(j?.problems) ? j.problems : [], warnings: Array.isArray(j?.warnings) ? j.warnings : [] }
}

export async function inject(id: string): Promise<void> {
  const r = await apiFetch('inject/' + encodeURIComponent(id), { method: 'POST' })
  if (!r.ok) {
    const j = await r.json().catch(() => null)
    throw new Error(j?.message ?? `inject failed: HTTP ${r.status}`)
  }
}

/** A node's credentials as Node-RED's admin API answers: text fields' values, has_<field> for passwords. */
export async function getCredentials(type: string, id: string): Promise<Record<string, unknown>> {
  const r = await apiFetch('credentials/' + encodeURIComponent(type) + '/' + encodeURIComponent(id), { headers: { Accept: 'application/json' } })
  if (!r.ok) return {}
  return r.json()
}

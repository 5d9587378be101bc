// The node settings panel (Node-RED's edit tray), generated from the node
// type's config schema. Trays stack: a config node opened from a node's field
// opens above it.
import { useEffect, useMemo, useRef, useState } from 'react'
import { CodeEditor } from './CodeEditor'
import { isConfigNode, isFlowNode } from './flowjson'
import { Markdown } from './Markdown'
import {
  closeTray, deleteFromTray, nodeLabel, openNewConfigTray, openTray, setDraft, typeOf, useEditor,
} from './store'
import type { Field, FlowObj, Problem } from './types'

const structural = new Set(['id', 'type', 'z', 'x', 'y', 'wires', 'g', 'd'])

function asText(v: unknown): string {
  if (v === undefined || v === null) return ''
  return typeof v === 'string' ? v : String(v)
}

/** The template line a problem names ("line 2: unclosed section"), for the code editor's mark. */
function problemLine(p?: Problem): number | undefined {
  const m = p ? /^line (\d+):/.exec(p.error) : null
  return m ? Number(m[1]) : undefined
}

function JsonInput({ id, value, onChange, invalid }: { id: string; value: unknown; onChange: (v: unknown) => void; invalid: boolean }) {
  const [text, setText] = useState(() => (value === undefined ? '' : JSON.stringify(value, null, 2)))
  const [err, setErr] = useState('')
  return (
    <>
      <CodeEditor
        id={id}
        value={text}
        lang="json"
        rows={Math.min(12, Math.max(4, text.split('\n').length + 1))}
        invalid={invalid || !!err}
        onChange={(t) => {
          setText(t)
          try {
            onChange(t.trim() === '' ? undefined : JSON.parse(t))
            setErr('')
          } catch (e) {
            setErr((e as Error).message)
          }
        }}
      />
      {err && <div className="rn-field-error">Invalid JSON: {err}</div>}
    </>
  )
}

function FieldInput({ f, draft, problem, prefix }: { f: Field; draft: FlowObj; problem?: Problem; prefix: string }) {
  const v = draft[f.name]
  const id = `${prefix}-${f.name}`
  const set = (nv: unknown) => setDraft({ ...draft, [f.name]: nv })
  const items = useEditor((s) => s.items)
  const invalid = !!problem
  switch (f.kind) {
    case 'boolean':
      return <input id={id} name={f.name} type="checkbox" checked={v === true || v === 'true'} onChange={(e) => set(e.target.checked)} />
    case 'select': {
      const opts = f.options ?? []
      const cur = asText(v)
      return (
        <select id={id} name={f.name} value={cur} onChange={(e) => set(e.target.value)} className={invalid ? 'invalid' : ''}>
          {!opts.includes(cur) && <option value={cur}>{cur === '' ? '(default)' : cur}</option>}
          {opts.map((o) => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      )
    }
    case 'integer':
    case 'number':
      return (
        <input
          id={id}
          name={f.name}
          type="number"
          step={f.kind === 'integer' ? 1 : 'any'}
          value={asText(v)}
          className={invalid ? 'invalid' : ''}
          onChange={(e) => {
            const t = e.target.value
            const n = Number(t)
            set(t === '' ? '' : Number.isFinite(n) ? n : t)
          }}
        />
      )
    case 'json':
      return <JsonInput id={id} value={v} onChange={set} invalid={invalid} />
    case 'code':
      return (
        <CodeEditor
          id={id}
          name={f.name}
          value={asText(v)}
          lang={f.lang}
          onChange={set}
          errorLine={problemLine(problem)}
          invalid={invalid}
          rows={f.lang === 'markdown' ? 8 : 10}
        />
      )
    case 'node': {
      const choices = items.filter((o) => o.type === f.nodeType && isConfigNode(o))
      const t = typeOf(f.nodeType ?? '')
      const cur = asText(v)
      return (
        <div className="rn-node-ref">
          <select
            id={id}
            name={f.name}
            value={cur}
            className={invalid ? 'invalid' : ''}
            onChange={(e) => {
              if (e.target.value === '__new__') openNewConfigTray(f.nodeType!, f.name)
              else set(e.target.value)
            }}
          >
            {!f.required && <option value="">(none)</option>}
            {f.required && !cur && <option value="">(choose)</option>}
            {cur && !choices.some((c) => c.id === cur) && <option value={cur}>unknown: {cur}</option>}
            {choices.map((c) => (
              <option key={c.id} value={c.id}>
                {nodeLabel(c, t)}
              </option>
            ))}
            <option value="__new__">Add new {t?.label ?? f.nodeType}…</option>
          </select>
          <button
            type="button"
            title={cur ? 'Edit this config node' : `Add new ${t?.label ?? f.nodeType}`}
            aria-label={cur ? 'Edit config node' : 'Add config node'}
            onClick={() => (cur && choices.some((c) => c.id === cur) ? openTray(cur) : openNewConfigTray(f.nodeType!, f.name))}
          >
            {cur ? '✎' : '+'}
          </button>
        </div>
      )
    }
    case 'password':
      return <input id={id} name={f.name} type="password" autoComplete="new-password" value={asText(v)} className={invalid ? 'invalid' : ''} onChange={(e) => set(e.target.value)} />
    default:
      return <input id={id} name={f.name} type="text" value={asText(v)} className={invalid ? 'invalid' : ''} onChange={(e) => set(e.target.value)} />
  }
}

/** For types the server does not know: the properties as JSON, so nothing is lost and all can be edited. */
function RawProps({ draft }: { draft: FlowObj }) {
  const props = useMemo(() => {
    const o: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(draft)) if (!structural.has(k) && k !== 'name') o[k] = v
    return o
  }, [draft])
  return (
    <div className="rn-row">
      <label htmlFor="node-input-raw">Properties (JSON)</label>
      <JsonInput
        id="node-input-raw"
        value={props}
        invalid={false}
        onChange={(v) => {
          if (!v || typeof v !== 'object' || Array.isArray(v)) return
          const keep: FlowObj = { id: draft.id, type: draft.type }
          for (const [k, val] of Object.entries(draft)) if (structural.has(k) || k === 'name') keep[k] = val
          setDraft({ ...keep, ...(v as object) })
        }}
      />
    </div>
  )
}

export function Tray() {
  const trays = useEditor((s) => s.trays)
  const drafts = useEditor((s) => s.drafts)
  const problemMap = useEditor((s) => s.problemMap)
  const items = useEditor((s) => s.items)
  const top = trays[trays.length - 1]
  const draft = top ? drafts.get(top.id) : undefined
  const body = useRef<HTMLDivElement>(null)
  useEffect(() => {
    // Focus the first field when a tray opens.
    const el = body.current?.querySelector<HTMLElement>('input:not([type=checkbox]), textarea, select')
    el?.focus()
  }, [top?.id])
  if (!top || !draft) return null
  const t = typeOf(draft.type)
  const config = isConfigNode(draft)
  const problems = problemMap.get(draft.id) ?? []
  const fields = (t?.fields ?? []).filter((f) => f.kind !== 'hidden' && f.name !== 'name')
  const fieldNames = new Set(fields.map((f) => f.name))
  const loose = problems.filter((p) => !p.field || !fieldNames.has(p.field))
  const users = config ? items.filter((o) => !isConfigNode(o) || o.id !== draft.id).filter((o) => Object.entries(o).some(([k, v]) => k !== 'id' && v === draft.id)) : []
  const prefix = config ? 'node-config-input' : 'node-input'
  const title = `${top.isNew ? 'Add new' : 'Edit'} ${t?.label ?? draft.type} ${config ? 'config ' : ''}node`
  return (
    <div className="rn-tray" role="dialog" aria-label={title} data-testid="tray" data-node={draft.id}>
      <div className="rn-tray-head">
        <span className="rn-tray-title">{title}</span>
        <span className="rn-spacer" />
        <button className="danger" onClick={deleteFromTray} disabled={config && users.length > 0 && !top.isNew} title={config && users.length ? 'In use' : 'Delete'}>
          Delete
        </button>
        <button onClick={() => closeTray(false)}>Cancel</button>
        <button className="primary" onClick={() => closeTray(true)}>
          {top.isNew ? 'Add' : 'Done'}
        </button>
      </div>
      <div
        className="rn-tray-body"
        ref={body}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
            e.preventDefault()
            closeTray(true)
          }
        }}
      >
        {loose.length > 0 && (
          <div className="rn-tray-problems" role="alert">
            {loose.map((p, i) => (
              <div key={i}>{(p.field ? p.field + ': ' : '') + p.error}</div>
            ))}
          </div>
        )}
        <div className="rn-row">
          <label htmlFor={`${prefix}-name`}>Name</label>
          <input id={`${prefix}-name`} name="name" type="text" value={asText(draft.name)} onChange={(e) => setDraft({ ...draft, name: e.target.value })} />
        </div>
        {t ? (
          fields.map((f) => {
            const p = problems.find((x) => x.field === f.name)
            return (
              <div key={f.name} className={'rn-row' + (f.kind === 'boolean' ? ' check' : '') + (p ? ' has-error' : '')} data-field={f.name}>
                <label htmlFor={`${prefix}-${f.name}`}>
                  {f.label ?? f.name}
                  {f.required && <span className="req">*</span>}
                </label>
                <FieldInput f={f} draft={draft} problem={p} prefix={prefix} />
                {p && (
                  <div className="rn-field-error" role="alert">
                    {p.error}
                  </div>
                )}
                {f.help && <div className="rn-help">{f.help}</div>}
              </div>
            )
          })
        ) : (
          <>
            <div className="rn-tray-problems">Unknown node type “{draft.type}”: Runnel has no such node. Its properties are kept as they are.</div>
            <RawProps draft={draft} />
          </>
        )}
        {isFlowNode(draft) && (
          <div className="rn-row check">
            <label htmlFor={`${prefix}-enabled`}>Enabled</label>
            <input
              id={`${prefix}-enabled`}
              type="checkbox"
              checked={draft.d !== true}
              onChange={(e) => {
                const n = { ...draft }
                if (e.target.checked) delete n.d
                else n.d = true
                setDraft(n)
              }}
            />
          </div>
        )}
        {config && (
          <div className="rn-help">
            {users.length ? `Used by ${users.length} node${users.length > 1 ? 's' : ''}.` : 'Not used by any node.'}
          </div>
        )}
        <details className="rn-tray-info">
          <summary>
            {t?.label ?? draft.type} help · id {draft.id}
          </summary>
          {t?.help ? <Markdown text={t.help} /> : <p>No help.</p>}
        </details>
      </div>
    </div>
  )
}

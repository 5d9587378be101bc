// The node settings panel (Node-RED's edit tray), generated from the node
// type's config schema. Trays stack: a config node opened from a node's field
// opens above it.
import { useEffect, useMemo, useRef, useState } from 'react'
import { CodeEditor } from './CodeEditor'
import { isConfigNode, isFlowNode } from './flowjson'
import { GroupTray } from './Groups'
import { Markdown } from './Markdown'
import { NumberInput } from './NumberInput'
import { getCredentials } from './api'
import {
  closeTray, defaultsOf, deleteFromTray, listOrigin, matches, newListKey, nodeLabel, openNewConfigTray, openTray, setDraft,
  setListOrigin, typeOf, useEditor, validateDraft,
} from './store'
import type { TrayEntry } from './store'
import type { Field, FlowObj, NodeType, Problem } from './types'
import { widgets, type WidgetProps } from './widgets'

const structural = new Set(['id', 'type', 'z', 'x', 'y', 'wires', 'g', 'd'])

function asText(v: unknown): string {
  if (v === undefined || v === null) return ''
  return typeof v === 'string' ? v : String(v)
}

/**
 * The line of a code field a problem names, for the code editor's mark: the
 * first "line N" in its message ("line 2: unclosed section", "SyntaxError:
 * Unexpected token (line 3, column 5)"); see engine.Field.
 */
export function problemLine(p?: Problem): number | undefined {
  const m = p ? /\bline\s+(\d+)/i.exec(p.error) : null
  const n = m ? Number(m[1]) : 0
  return n > 0 ? n : undefined
}

/** How long the tray waits after the last change before validating the draft. */
const validateDelay = 300

/** The tab of fields without one, when others have one. */
const firstTab = 'Properties'

/** The tab last chosen for each node type, so the next node of that type opens on it. */
const lastTab = new Map<string, string>()

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

/** Node-RED's TypedInput types: the menu's labels, and the fixed choices of those that have them. */
const typeLabels: Record<string, string> = {
  msg: 'msg.', flow: 'flow.', global: 'global.', str: 'string', num: 'number', bool: 'boolean', json: 'JSON',
  bin: 'buffer', re: 'regular expression', date: 'timestamp', jsonata: 'JSONata', env: 'env variable', expr: 'expr',
  prev: 'previous value',
  // The type names of switch's "is of type" rule.
  string: 'a string', number: 'a number', boolean: 'a boolean', array: 'an array', buffer: 'a buffer',
  object: 'an object', undefined: 'undefined', null: 'null',
}
const typeChoices: Record<string, [string, string][]> = {
  bool: [['true', 'true'], ['false', 'false']],
  date: [['', 'milliseconds since epoch'], ['iso', 'YYYY-MM-DDTHH:mm:ss.sssZ'], ['object', 'JavaScript Date Object']],
}
/** Types that have no value to type (Node-RED's hasValue: false). */
const noValue = new Set<string>([])

/** Node-RED's TypedInput: the type menu at the left of the value; a select for types with fixed values. */
function TypedInput({ f, obj, set, id, invalid }: { f: Field; obj: Record<string, unknown>; set: (patch: Record<string, unknown>) => void; id: string; invalid: boolean }) {
  const types = f.types?.length ? f.types : ['str']
  const tp = f.typeProp ?? f.name + 'Type'
  const typ = asText(obj[tp]) || types[0]
  const v = asText(obj[f.name])
  const choices = typeChoices[typ]
  return (
    <div className={'rn-typed' + (invalid ? ' invalid' : '')} data-typed={f.name}>
      <select
        className="rn-typed-type"
        id={id + '-type'}
        aria-label={(f.label ?? f.name) + ' type'}
        value={typ}
        onChange={(e) => {
          const nt = e.target.value
          const c = typeChoices[nt]
          // A fixed-choice type starts at its first choice; others keep the text.
          set({ [tp]: nt, [f.name]: c ? (c.some(([cv]) => cv === v) ? v : c[0][0]) : typeChoices[typ] ? '' : v })
        }}
      >
        {!types.includes(typ) && <option value={typ}>{typ}</option>}
        {types.map((t, i) => (
          <option key={t} value={t}>
            {f.typeLabels?.[i] ?? typeLabels[t] ?? t}
          </option>
        ))}
      </select>
      {noValue.has(typ) || f.noValue?.includes(typ) ? null : choices ? (
        <select id={id} name={f.name} className="rn-typed-value" value={v} onChange={(e) => set({ [f.name]: e.target.value })}>
          {!choices.some(([cv]) => cv === v) && <option value={v}>{v}</option>}
          {choices.map(([cv, label]) => (
            <option key={cv} value={cv}>
              {label}
            </option>
          ))}
        </select>
      ) : (
        <input id={id} name={f.name} type="text" className="rn-typed-value" value={v} onChange={(e) => set({ [f.name]: e.target.value })} />
      )}
    </div>
  )
}

/** A select with labelled options, and with f.other a further choice that takes any value in a text box. */
function SelectInput({ f, v, set, id, invalid }: { f: Field; v: unknown; set: (v: unknown) => void; id: string; invalid: boolean }) {
  const opts = f.options ?? []
  const cur = asText(v)
  const label = (i: number) => f.optionLabels?.[i] ?? opts[i]
  const isOther = !!f.other && !opts.includes(cur)
  const [otherText, setOtherText] = useState(isOther ? cur : '')
  return (
    <div className="rn-select">
      <select
        id={id}
        name={f.name}
        value={isOther ? '__other__' : cur}
        onChange={(e) => set(e.target.value === '__other__' ? otherText : e.target.value)}
        className={invalid ? 'invalid' : ''}
      >
        {!f.other && !opts.includes(cur) && <option value={cur}>{cur === '' ? '(default)' : cur}</option>}
        {opts.map((o, i) => (
          <option key={o} value={o}>
            {label(i) || '(default)'}
          </option>
        ))}
        {f.other && <option value="__other__">{f.other}</option>}
      </select>
      {isOther && (
        <input
          id={id + '-other'}
          type="text"
          aria-label={f.other}
          value={cur}
          className={invalid ? 'invalid' : ''}
          onChange={(e) => {
            setOtherText(e.target.value)
            set(e.target.value)
          }}
        />
      )}
    </div>
  )
}

/** The entries of a list field as the form shows them: entries kept in the node's own properties (topLevel) filled in. */
function expandList(f: Field, obj: Record<string, unknown>): Record<string, unknown>[] {
  const raw = Array.isArray(obj[f.name]) ? (obj[f.name] as unknown[]) : []
  const key = f.item?.[0]?.name ?? ''
  const vf = f.item?.find((x) => x.kind === 'typed')
  return raw.map((e) => {
    const entry = e && typeof e === 'object' && !Array.isArray(e) ? { ...(e as Record<string, unknown>) } : {}
    if (!vf || entry[vf.name] !== undefined) return entry
    const tp = vf.typeProp ?? vf.name + 'Type'
    const tl = f.topLevel?.find((t) => t.key === entry[key] && (t.type ? true : entry[tp] === 'str'))
    if (!tl) return entry
    entry[vf.name] = obj[tl.value] ?? ''
    if (tl.type) entry[tp] = asText(obj[tl.type]) || vf.types?.[0] || 'str'
    return entry
  })
}

/** The inverse of expandList: the patch that stores entries, moving topLevel ones back as Node-RED's editor does. */
function collapseList(f: Field, entries: Record<string, unknown>[]): Record<string, unknown> {
  const patch: Record<string, unknown> = {}
  const key = f.item?.[0]?.name ?? ''
  const vf = f.item?.find((x) => x.kind === 'typed')
  const tp = vf ? vf.typeProp ?? vf.name + 'Type' : ''
  for (const tl of f.topLevel ?? []) {
    if (tl.type) {
      patch[tl.value] = undefined
      patch[tl.type] = undefined
    } else patch[tl.value] = ''
  }
  const done = new Set<string>()
  patch[f.name] = entries.map((e) => {
    const tl = vf && f.topLevel?.find((t) => t.key === e[key] && !done.has(t.key) && (t.type ? true : e[tp] === 'str'))
    if (!tl || !vf) return e
    done.add(tl.key)
    const out = { ...e }
    patch[tl.value] = e[vf.name] ?? ''
    delete out[vf.name]
    if (tl.type) {
      patch[tl.type] = e[tp]
      delete out[tp]
    }
    return out
  })
  return patch
}

/** A list field: one row per entry with its fields, and add, remove and reorder. */
function ListInput({ f, obj, set, id, ownerId, problems, live }: {
  f: Field; obj: Record<string, unknown>; set: (patch: Record<string, unknown>) => void; id: string; ownerId: string; problems: Problem[]; live: boolean
}) {
  const entries = expandList(f, obj)
  const lo = listOrigin(ownerId, f.name, entries.length)
  const store = (next: Record<string, unknown>[], origin: number[], keys: number[]) => {
    setListOrigin(ownerId, f.name, { origin, keys })
    set(collapseList(f, next))
  }
  const move = (i: number, j: number) => {
    if (j < 0 || j >= entries.length) return
    const swap = <T,>(a: T[]) => {
      const b = [...a]
      ;[b[i], b[j]] = [b[j], b[i]]
      return b
    }
    store(swap(entries), swap(lo.origin), swap(lo.keys))
  }
  const item = f.item ?? []
  const shown = (e: Record<string, unknown>) => item.filter((x) => x.kind !== 'hidden' && matches(x.showIf, e))
  // The problem with an entry's field (rules[0].to): a deploy's names the
  // entry by its index when the tray opened, validating the draft by its
  // index now.
  const problemAt = (i: number, x: Field) => {
    const at = live ? i : lo.origin[i]
    return problems.find((q) => at >= 0 && q.field === `${f.name}[${at}].${x.name}`)
  }
  const entryProblems = (i: number) =>
    shown(entries[i]).flatMap((x) => {
      const p = problemAt(i, x)
      return p ? [{ x, p }] : []
    })
  return (
    <div className="rn-list" id={id} data-list={f.name}>
      <ol>
        {entries.map((e, i) => (
          <li key={lo.keys[i]} className="rn-list-entry" data-testid="list-entry">
            <span className="rn-list-fields">
              {shown(e).map((x) => {
                const p = problemAt(i, x)
                const eid = `${id}-${i}-${x.name}`
                return (
                  <span key={x.name} className={'rn-list-field' + (x.kind === 'boolean' ? ' check' : '')} title={p?.error ?? x.help}>
                    <label htmlFor={x.kind === 'typed' ? eid + '-type' : eid}>{x.label ?? x.name}</label>
                    <FieldInput
                      f={x}
                      obj={e}
                      set={(patch) => store(entries.map((y, k) => (k === i ? { ...y, ...patch } : y)), lo.origin, lo.keys)}
                      id={eid}
                      problem={p}
                      ownerId={ownerId}
                    />
                  </span>
                )
              })}
              {entryProblems(i).length > 0 && (
                <div className="rn-field-error rn-list-error" role="alert">
                  {entryProblems(i).map(({ x, p }) => (
                    <div key={x.name}>{(x.label ?? x.name) + ': ' + p.error}</div>
                  ))}
                </div>
              )}
            </span>
            <span className="rn-list-buttons">
              <button type="button" aria-label="Move up" title="Move up" disabled={i === 0} onClick={() => move(i, i - 1)}>↑</button>
              <button type="button" aria-label="Move down" title="Move down" disabled={i === entries.length - 1} onClick={() => move(i, i + 1)}>↓</button>
              <button
                type="button"
                aria-label="Remove"
                title="Remove"
                onClick={() => store(entries.filter((_, k) => k !== i), lo.origin.filter((_, k) => k !== i), lo.keys.filter((_, k) => k !== i))}
              >
                ✕
              </button>
            </span>
          </li>
        ))}
      </ol>
      <button
        type="button"
        className="rn-list-add"
        onClick={() => store([...entries, defaultsOf(item)], [...lo.origin, -1], [...lo.keys, newListKey()])}
      >
        + add
      </button>
    </div>
  )
}

/** The input of one field of obj (a node's settings or a list entry); set patches obj. */
export function FieldInput({ f, obj, set: patch, id, problem, ownerId, problems = [], live = false }: {
  f: Field; obj: Record<string, unknown>; set: (patch: Record<string, unknown>) => void; id: string; problem?: Problem; ownerId: string; problems?: Problem[]; live?: boolean
}) {
  const v = obj[f.name]
  const set = (nv: unknown) => patch({ [f.name]: nv })
  const items = useEditor((s) => s.items)
  const invalid = !!problem
  // A widget of its own for kinds that need one (widgets.ts).
  const W = widgets[f.kind]
  if (W) return <W f={f} obj={obj as WidgetProps['obj']} set={patch} id={id} invalid={invalid} />
  switch (f.kind) {
    case 'boolean':
      return <input id={id} name={f.name} type="checkbox" checked={v === true || v === 'true'} onChange={(e) => set(e.target.checked)} />
    case 'select':
      return <SelectInput f={f} v={v} set={set} id={id} invalid={invalid} />
    case 'typed':
      return <TypedInput f={f} obj={obj} set={patch} id={id} invalid={invalid} />
    case 'list':
      return <ListInput f={f} obj={obj} set={patch} id={id} ownerId={ownerId} problems={problems} live={live} />
    case 'integer':
    case 'number':
      return <NumberInput f={f} v={v} set={set} id={id} invalid={invalid} />
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
          rows={f.lang === 'markdown' ? 8 : f.lang === 'javascript' ? 16 : 10}
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

/** Applies a form's patch to a node: undefined removes a property. */
function patched(draft: FlowObj, patch: Record<string, unknown>): FlowObj {
  const o: FlowObj = { ...draft, ...patch }
  for (const [k, v] of Object.entries(patch)) if (v === undefined) delete o[k]
  return o
}

/**
 * The node's credentials, as Node-RED's editor shows them: text fields with
 * their stored value (GET /credentials), password fields empty, saying
 * whether one is set. What is typed goes in the node's "credentials" for
 * the deploy; a password field left empty keeps the stored password.
 */
function CredentialInputs({ t, draft, prefix, deployed }: { t: NodeType; draft: FlowObj; prefix: string; deployed: boolean }) {
  const [stored, setStored] = useState<Record<string, unknown>>({})
  useEffect(() => {
    let live = true
    setStored({})
    if (deployed) getCredentials(t.type, draft.id).then((c) => live && setStored(c), () => {})
    return () => {
      live = false
    }
  }, [t.type, draft.id, deployed])
  const sent = (draft.credentials ?? {}) as Record<string, string>
  const put = (name: string, v: string | undefined) => {
    const c = { ...sent }
    if (v === undefined) delete c[name]
    else c[name] = v
    setDraft(patched(draft, { credentials: Object.keys(c).length ? c : undefined }))
  }
  return (
    <>
      {(t.credentialFields ?? []).map((f) => {
        const id = `${prefix}-${f.name}`
        const password = f.kind === 'password'
        const has = stored['has_' + f.name] === true
        return (
          <div key={f.name} className="rn-row" data-field={f.name} data-credential="true">
            <label htmlFor={id}>{f.label ?? f.name}</label>
            {password ? (
              <input
                id={id}
                name={f.name}
                type="password"
                autoComplete="new-password"
                value={sent[f.name] ?? ''}
                placeholder={has ? 'set (type to change)' : ''}
                onChange={(e) => put(f.name, e.target.value === '' ? undefined : e.target.value)}
              />
            ) : (
              <input
                id={id}
                name={f.name}
                type="text"
                autoComplete="off"
                value={sent[f.name] ?? asText(stored[f.name])}
                onChange={(e) => put(f.name, e.target.value)}
              />
            )}
            {password && has && !sent[f.name] && <div className="rn-help">A password is set; it is never shown.</div>}
          </div>
        )
      })}
    </>
  )
}

export function Tray() {
  const trays = useEditor((s) => s.trays)
  const drafts = useEditor((s) => s.drafts)
  const problemMap = useEditor((s) => s.problemMap)
  const liveProblems = useEditor((s) => s.liveProblems)
  const items = useEditor((s) => s.items)
  const deployedMap = useEditor((s) => s.deployedMap)
  const top = trays[trays.length - 1]
  const draft = top ? drafts.get(top.id) : undefined
  const body = useRef<HTMLDivElement>(null)
  const [tabSel, setTabSel] = useState<{ tray?: TrayEntry; tab?: string }>({})
  useEffect(() => {
    // Focus the first field when a tray opens.
    const el = body.current?.querySelector<HTMLElement>('input:not([type=checkbox]), textarea, select')
    el?.focus()
  }, [top?.id])
  useEffect(() => {
    // Validate the draft as a deploy would, a moment after the user stops
    // changing it (not before the first change: a deploy's problems stay).
    if (!top || !draft || draft === top.initial) return
    const h = setTimeout(() => validateDraft(draft.id), validateDelay)
    return () => clearTimeout(h)
  }, [top, draft])
  if (!top || !draft) return null
  // A group is not a registered node type: its own form (Groups.tsx).
  if (draft.type === 'group') return <GroupTray top={top} draft={draft} />
  const t = typeOf(draft.type)
  const config = isConfigNode(draft)
  const live = liveProblems.get(draft.id)
  const problems = live ?? problemMap.get(draft.id) ?? []
  const allFields = (t?.fields ?? []).filter((f) => f.kind !== 'hidden' && f.name !== 'name')
  const fields = allFields.filter((f) => matches(f.showIf, draft))
  const fieldNames = new Set(fields.map((f) => f.name))
  // A list entry's problem (props[1].v) shows at the entry.
  const fieldOf = (p: Problem) => (p.field ?? '').split(/[[.]/)[0]
  const loose = problems.filter((p) => !p.field || !fieldNames.has(fieldOf(p)))
  // Tabs, in the order their names first appear; fields without one first.
  const tabName = (f: Field) => f.tab || firstTab
  const tabNames = allFields.some((f) => f.tab) ? [...new Set(allFields.map(tabName))].sort((a, b) => (a === firstTab ? -1 : b === firstTab ? 1 : 0)) : []
  const hasProblem = (n: string, list: Problem[]) => fields.some((f) => tabName(f) === n && list.some((p) => p.field && fieldOf(p) === f.name))
  const tabProblems = (n: string) => hasProblem(n, problems)
  // The tab shown: the one chosen in this tray, else the first with a
  // problem from before it opened (not one found while typing: the tab
  // would jump), else the one last chosen for the type, else the first.
  const last = lastTab.get(draft.type)
  const chosen = (tabSel.tray === top ? tabSel.tab : undefined) ?? tabNames.find((n) => hasProblem(n, problemMap.get(draft.id) ?? [])) ?? last
  // Node-RED opens the function node's form on its code, "On Message".
  const opening = tabNames.includes('On Message') ? 'On Message' : tabNames[0]
  const tab = tabNames.length === 0 ? '' : chosen && tabNames.includes(chosen) ? chosen : opening
  const chooseTab = (n: string) => {
    lastTab.set(draft.type, n)
    setTabSel({ tray: top, tab: n })
  }
  const shownFields = tab ? fields.filter((f) => tabName(f) === tab) : fields
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
        {tabNames.length > 0 && (
          <div className="rn-tray-tabs" role="tablist">
            {tabNames.map((n) => (
              <button
                key={n}
                type="button"
                role="tab"
                aria-selected={n === tab}
                className={(n === tab ? 'active' : '') + (tabProblems(n) ? ' has-error' : '')}
                title={tabProblems(n) ? `${n} has a problem` : undefined}
                onClick={() => chooseTab(n)}
              >
                {n}
                {tabProblems(n) && (
                  <span className="rn-tab-error" aria-hidden="true">
                    !
                  </span>
                )}
              </button>
            ))}
          </div>
        )}
        {t ? (
          shownFields.map((f) => {
            const p = problems.find((x) => x.field === f.name)
            return (
              <div key={f.name} className={'rn-row' + (f.kind === 'boolean' ? ' check' : '') + (p ? ' has-error' : '')} data-field={f.name}>
                <label htmlFor={`${prefix}-${f.name}` + (f.kind === 'typed' ? '-type' : '')}>
                  {f.label ?? f.name}
                  {f.required && <span className="req">*</span>}
                </label>
                <FieldInput
                  f={f}
                  obj={draft}
                  set={(patch) => setDraft(patched(draft, patch))}
                  id={`${prefix}-${f.name}`}
                  problem={p}
                  ownerId={draft.id}
                  problems={problems}
                  live={!!live}
                />
                {p && (
                  <div className="rn-field-error" role="alert">
                    {p.error}
                  </div>
                )}
                {f.help && <div className="rn-help">{f.help}</div>}
              </div>
            )
          })
        ) : null}
        {t?.credentialFields?.length ? <CredentialInputs t={t} draft={draft} prefix={prefix} deployed={deployedMap.has(draft.id)} /> : null}
        {t ? null : (
          <>
            <div className="rn-tray-problems">Unknown node type “{draft.type}”: Runnel has no such node. Its properties are kept as they are.</div>
            <RawProps draft={draft} />
          </>
        )}
        {(isFlowNode(draft) || (!t && draft.type !== 'subflow')) && (
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

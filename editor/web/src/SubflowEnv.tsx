// The form of a subflow instance's properties: one input per env entry of
// its definition (with the UI its "ui" meta asks for: input with its
// TypedInput types, select, checkbox, spinner, hidden), showing the
// definition's value until the instance overrides it. The instance's
// "env" keeps only the overrides, as Node-RED's editor saves them; a
// cred property's value goes in the instance's credentials.
import { envList, type EnvEntry } from './subflowdoc'
import { closeTray, getState, useEditor } from './store'
import { openSubflow } from './Subflows'
import type { WidgetProps } from './widgets'
import type { FlowObj } from './types'

const typeLabels: Record<string, string> = {
  str: 'string', num: 'number', bool: 'boolean', json: 'JSON', bin: 'buffer', env: 'env variable', jsonata: 'JSONata', cred: 'credential',
}

const text = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v))

function labelOf(e: EnvEntry): string {
  const l = e.ui?.label
  if (l && typeof l === 'object') return l['en-US'] ?? Object.values(l)[0] ?? e.name
  return e.name
}

/** Whether a value fits its type, for the field's error mark. */
function problem(type: string, v: string): string | undefined {
  if (type === 'num' && v.trim() !== '' && !Number.isFinite(Number(v))) return 'not a number'
  if (type === 'json' && v.trim() !== '') {
    try {
      JSON.parse(v)
    } catch {
      return 'not valid JSON'
    }
  }
  return undefined
}

export function SubflowEnvWidget({ obj, set, id }: WidgetProps) {
  const defId = obj.type.startsWith('subflow:') ? obj.type.slice(8) : ''
  const def = useEditor((s) => s.items.find((o) => o.id === defId))
  const defEnv = envList(def)
  const own = envList(obj as FlowObj)
  const creds = (obj.credentials ?? {}) as Record<string, string>
  const shown = defEnv.filter((e) => e.ui?.type !== 'none' && e.ui?.type !== 'hide')
  const put = (e: EnvEntry, type: string, value: string | undefined) => {
    const rest = own.filter((x) => x.name !== e.name)
    const same = type === e.type && (value ?? '') === text(e.value)
    const list = same && type !== 'cred' ? rest : [...rest, type === 'cred' ? { name: e.name, type } : { name: e.name, type, value: value ?? '' }]
    // Keep the definition's order, then entries the definition does not have.
    const order = (x: EnvEntry) => {
      const i = defEnv.findIndex((d) => d.name === x.name)
      return i < 0 ? defEnv.length : i
    }
    list.sort((a, b) => order(a) - order(b))
    const patch: Record<string, unknown> = { env: list }
    if (type === 'cred') {
      const c = { ...creds }
      if (value === undefined || value === '') delete c[e.name]
      else c[e.name] = value
      patch.credentials = Object.keys(c).length ? c : undefined
    }
    set(patch)
  }
  const openDef = () => {
    // As Node-RED's button: the form closes and the subflow opens on its tab.
    closeTray(false)
    openSubflow(defId)
  }
  return (
    <div className="rn-subflow-envform" id={id} data-testid="subflow-env">
      {!def ? <div className="rn-field-error">The subflow definition {defId} is missing</div> : null}
      {def && !shown.length ? <div className="rn-help">This subflow has no properties.</div> : null}
      {shown.map((e) => {
        const o = own.find((x) => x.name === e.name)
        const type = o?.type ?? e.type
        const value = type === 'cred' ? creds[e.name] ?? '' : text(o ? o.value : e.value)
        const fid = `${id}-${e.name}`
        const types = e.ui?.opts?.types?.length ? e.ui.opts.types : [e.type]
        const err = problem(type, value)
        const ui = e.ui?.type ?? 'input'
        let input: React.ReactNode
        if (ui === 'select' && e.ui?.opts?.opts?.length) {
          input = (
            <select id={fid} value={value} onChange={(ev) => put(e, type, ev.target.value)}>
              {e.ui.opts.opts.map((x, i) => (
                <option key={i} value={text(x.v)}>{x.l ? x.l['en-US'] ?? Object.values(x.l)[0] : text(x.v)}</option>
              ))}
            </select>
          )
        } else if (type === 'bool' || ui === 'checkbox') {
          input = <input id={fid} type="checkbox" checked={value === 'true'} onChange={(ev) => put(e, 'bool', ev.target.checked ? 'true' : 'false')} />
        } else if (type === 'cred') {
          input = <input id={fid} type="password" autoComplete="new-password" value={value} placeholder={getState().deployedMap.has(obj.id as string) ? 'unchanged' : ''} onChange={(ev) => put(e, 'cred', ev.target.value)} />
        } else if (type === 'json') {
          input = <textarea id={fid} rows={3} className={'mono' + (err ? ' invalid' : '')} value={value} onChange={(ev) => put(e, type, ev.target.value)} />
        } else {
          input = (
            <input
              id={fid}
              type={type === 'num' || ui === 'spinner' ? 'number' : 'text'}
              className={err ? 'invalid' : ''}
              value={value}
              placeholder={type === 'env' ? 'environment variable' : ''}
              onChange={(ev) => put(e, type, ev.target.value)}
            />
          )
        }
        return (
          <div key={e.name} className={'rn-subflow-envrow' + (o ? ' set' : '')} data-env={e.name}>
            <label htmlFor={fid} title={e.name}>{labelOf(e)}</label>
            {types.length > 1 ? (
              <select aria-label={`${e.name} type`} value={type} onChange={(ev) => put(e, ev.target.value, value)}>
                {types.map((t) => (
                  <option key={t} value={t}>{typeLabels[t] ?? t}</option>
                ))}
              </select>
            ) : (
              <span className="rn-subflow-envtype">{typeLabels[type] ?? type}</span>
            )}
            {input}
            {o && type !== 'cred' ? (
              <button type="button" title="Use the subflow's value" aria-label={`Reset ${e.name}`} onClick={() => put(e, e.type, text(e.value))}>↺</button>
            ) : null}
            {err ? <span className="rn-field-error">{err}</span> : null}
          </div>
        )
      })}
      {def ? (
        <button type="button" className="rn-subflow-edit-template" onClick={openDef} data-testid="edit-subflow-template">
          Edit subflow template
        </button>
      ) : null}
    </div>
  )
}

// Dialogs: import, export, flow (tab) properties, deploy conflicts, keyboard help.
import { useMemo, useRef, useState } from 'react'
import { CodeEditor } from './CodeEditor'
import { conflicts, isFlowNode, newId, parseFlowText, type ExportScope } from './flowjson'
import {
  commit, deploy, exportText, getState, importText, mergeAndDeploy, notify, removeTab, setState,
  useEditor,
} from './store'
import { RollbackDialog } from './History'
import type { FlowObj } from './types'

export function Modal({ title, children, buttons, wide }: { title: string; children: React.ReactNode; buttons: React.ReactNode; wide?: boolean }) {
  return (
    <div className="rn-modal-back" onMouseDown={(e) => e.target === e.currentTarget && setState({ dialog: null })}>
      <div className={'rn-modal' + (wide ? ' wide' : '')} role="dialog" aria-label={title} aria-modal="true">
        <div className="rn-modal-head">{title}</div>
        <div className="rn-modal-body">{children}</div>
        <div className="rn-modal-foot">{buttons}</div>
      </div>
    </div>
  )
}

function ImportDialog({ initial }: { initial?: string }) {
  const [text, setText] = useState(initial ?? '')
  const [err, setErr] = useState('')
  const [mode, setMode] = useState<'keep' | 'replace'>('keep')
  const [into, setInto] = useState<'current' | 'new'>('current')
  const file = useRef<HTMLInputElement>(null)
  const clash = useMemo(() => {
    try {
      return text.trim() ? conflicts(getState().items, parseFlowText(text)).length : 0
    } catch {
      return 0
    }
  }, [text])
  const doImport = () => {
    try {
      let newTab: FlowObj | undefined
      if (into === 'new') {
        const objs = parseFlowText(text)
        if (objs.some((o) => isFlowNode(o) && !objs.some((t) => (t.type === 'tab' || t.type === 'subflow') && t.id === o.z))) {
          // Nodes without a tab (or subflow) of their own go to a new flow.
          const s = getState()
          const n = s.items.filter((o) => o.type === 'tab').length + 1
          newTab = { id: newId(), type: 'tab', label: `Flow ${n}`, disabled: false, info: '' }
        }
      }
      const r = importText(text, mode, { newTab })
      setState({ dialog: null })
      notify('success', `Imported ${r.nodes.length} node${r.nodes.length === 1 ? '' : 's'}${r.replaced ? `, replaced ${r.replaced}` : ''}`)
    } catch (e) {
      setErr((e as Error).message)
    }
  }
  return (
    <Modal
      title="Import nodes"
      wide
      buttons={
        <>
          <button onClick={() => setState({ dialog: null })}>Cancel</button>
          <button className="primary" onClick={doImport} disabled={!text.trim()} data-testid="import-confirm">
            Import
          </button>
        </>
      }
    >
      <div className="rn-row">
        <label htmlFor="import-text">Paste flow JSON (Runnel or Node-RED), or</label>
        <input
          ref={file}
          type="file"
          accept=".json,application/json"
          data-testid="import-file"
          onChange={async (e) => {
            const f = e.target.files?.[0]
            if (f) setText(await f.text())
          }}
        />
      </div>
      <textarea id="import-text" className="rn-import-text" value={text} onChange={(e) => { setText(e.target.value); setErr('') }} spellCheck={false} placeholder="[ { &quot;id&quot;: …, &quot;type&quot;: …}, … ]" />
      {err && <div className="rn-field-error" role="alert">{err}</div>}
      <div className="rn-row inline">
        <span>Import to</span>
        <label><input type="radio" name="into" checked={into === 'current'} onChange={() => setInto('current')} /> current flow</label>
        <label><input type="radio" name="into" checked={into === 'new'} onChange={() => setInto('new')} /> new flow</label>
      </div>
      {clash > 0 && (
        <div className="rn-row inline rn-clash" data-testid="import-clash">
          <span>{clash} node{clash > 1 ? 's' : ''} already exist{clash > 1 ? '' : 's'}:</span>
          <label><input type="radio" name="mode" checked={mode === 'keep'} onChange={() => setMode('keep')} /> import copies</label>
          <label><input type="radio" name="mode" value="replace" checked={mode === 'replace'} onChange={() => setMode('replace')} /> replace existing</label>
        </div>
      )}
    </Modal>
  )
}

function ExportDialog() {
  const selected = useEditor((s) => s.selected)
  const items = useEditor((s) => s.items)
  const tab = useEditor((s) => s.tab)
  const [scope, setScope] = useState<ExportScope>(selected.size ? 'selected' : 'flow')
  // Node-RED's names by default: an export usually goes back to Node-RED.
  const [nodeRed, setNodeRed] = useState(true)
  const [pretty, setPretty] = useState(true)
  const text = useMemo(() => exportText(scope, nodeRed, pretty), [scope, nodeRed, pretty, items, tab, selected])
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text)
    } catch {
      const ta = document.createElement('textarea')
      ta.value = text
      document.body.appendChild(ta)
      ta.select()
      document.execCommand('copy')
      ta.remove()
    }
    notify('success', 'Copied flow JSON to the clipboard', undefined, 2000)
    setState({ dialog: null })
  }
  const download = () => {
    const a = document.createElement('a')
    a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }))
    a.download = 'flows.json'
    document.body.appendChild(a)
    a.click()
    a.remove()
    setTimeout(() => URL.revokeObjectURL(a.href), 1000)
    setState({ dialog: null })
  }
  return (
    <Modal
      title="Export nodes"
      wide
      buttons={
        <>
          <button onClick={() => setState({ dialog: null })}>Cancel</button>
          <button onClick={download} data-testid="export-download">Download</button>
          <button className="primary" onClick={copy} data-testid="export-copy">Copy to clipboard</button>
        </>
      }
    >
      <div className="rn-row inline" role="radiogroup" aria-label="What">
        <label><input type="radio" name="scope" value="selected" disabled={!selected.size} checked={scope === 'selected'} onChange={() => setScope('selected')} /> selected nodes</label>
        <label><input type="radio" name="scope" value="flow" checked={scope === 'flow'} onChange={() => setScope('flow')} /> current flow</label>
        <label><input type="radio" name="scope" value="all" checked={scope === 'all'} onChange={() => setScope('all')} /> all flows</label>
      </div>
      <div className="rn-row inline" role="radiogroup" aria-label="Format">
        <label><input type="radio" name="names" value="runnel" checked={!nodeRed} onChange={() => setNodeRed(false)} /> Runnel names</label>
        <label><input type="radio" name="names" value="node-red" checked={nodeRed} onChange={() => setNodeRed(true)} /> Node-RED names</label>
        <span className="rn-spacer" />
        <label><input type="checkbox" checked={pretty} onChange={(e) => setPretty(e.target.checked)} /> formatted</label>
      </div>
      <textarea className="rn-import-text" readOnly value={text} data-testid="export-text" spellCheck={false} />
    </Modal>
  )
}

function TabDialog({ id }: { id: string }) {
  const items = useEditor((s) => s.items)
  const t = items.find((o) => o.id === id)
  const [label, setLabel] = useState(String(t?.label ?? ''))
  const [disabled, setDisabled] = useState(!!t?.disabled)
  const [info, setInfo] = useState(String(t?.info ?? ''))
  if (!t) return null
  const done = () => {
    const n = { ...t, label, disabled, info }
    commit(getState().items.map((o) => (o.id === id ? n : o)))
    setState({ dialog: null })
  }
  return (
    <Modal
      title="Edit flow"
      buttons={
        <>
          <button
            className="danger"
            onClick={() => {
              setState({ dialog: null })
              removeTab(id)
            }}
          >
            Delete
          </button>
          <span className="rn-spacer" />
          <button onClick={() => setState({ dialog: null })}>Cancel</button>
          <button className="primary" onClick={done}>Done</button>
        </>
      }
    >
      <div className="rn-row">
        <label htmlFor="tab-label">Name</label>
        <input id="tab-label" value={label} onChange={(e) => setLabel(e.target.value)} autoFocus onKeyDown={(e) => e.key === 'Enter' && done()} />
      </div>
      <div className="rn-row check">
        <label htmlFor="tab-enabled">Enabled</label>
        <input id="tab-enabled" type="checkbox" checked={!disabled} onChange={(e) => setDisabled(!e.target.checked)} />
      </div>
      <div className="rn-row">
        <label>Description (Markdown)</label>
        <CodeEditor value={info} lang="markdown" onChange={setInfo} rows={8} />
      </div>
    </Modal>
  )
}

function ConflictDialog() {
  return (
    <Modal
      title="Flows changed on the server"
      buttons={
        <>
          <button onClick={() => setState({ dialog: null })}>Cancel</button>
          <button onClick={() => deploy(getState().deployType, true)} data-testid="conflict-overwrite">Overwrite</button>
          <button className="primary" onClick={() => mergeAndDeploy()} data-testid="conflict-merge">Merge and deploy</button>
        </>
      }
    >
      <p>Someone deployed other flows since you loaded yours. Merge their changes with yours (where both changed a node, yours wins), or overwrite theirs with yours.</p>
    </Modal>
  )
}

export const shortcuts: [string, string][] = [
  ['Ctrl+D', 'Deploy'],
  ['Ctrl+Z / Ctrl+Y', 'Undo / redo (also Ctrl+Shift+Z)'],
  ['Ctrl+C / Ctrl+X / Ctrl+V', 'Copy / cut / paste (flow JSON, also from other apps)'],
  ['Ctrl+Shift+D', 'Duplicate the selection'],
  ['Ctrl+A', 'Select all nodes of the flow'],
  ['Delete', 'Delete the selected nodes and wires'],
  ['Enter', 'Edit the selected node'],
  ['Arrows', 'Move the selection (Shift: by 20)'],
  ['Ctrl+I / Ctrl+E', 'Import / export'],
  ['Ctrl+F', 'Search the flows'],
  ['/ or Ctrl+click on the canvas', 'Quick-add a node (wired to the selected one)'],
  ['Ctrl+Space', 'Show or hide the sidebar'],
  ['Ctrl+= / Ctrl+- / Ctrl+0', 'Zoom in / out / fit'],
  ['Drag on the canvas', 'Select with a box (Ctrl+click adds to the selection)'],
  ['Wheel / middle or right drag', 'Pan (Ctrl+wheel zooms)'],
  ['Escape', 'Close the panel or dialog'],
]

function KeysDialog() {
  return (
    <Modal title="Keyboard shortcuts" buttons={<button className="primary" onClick={() => setState({ dialog: null })}>Close</button>}>
      <table className="rn-keys">
        <tbody>
          {shortcuts.map(([k, v]) => (
            <tr key={k}><td><kbd>{k}</kbd></td><td>{v}</td></tr>
          ))}
        </tbody>
      </table>
    </Modal>
  )
}

export function Dialogs() {
  const d = useEditor((s) => s.dialog)
  if (!d) return null
  switch (d.kind) {
    case 'import':
      return <ImportDialog initial={d.text} />
    case 'export':
      return <ExportDialog />
    case 'tab':
      return <TabDialog id={d.id} />
    case 'conflict':
      return <ConflictDialog />
    case 'keys':
      return <KeysDialog />
    case 'rollback':
      return <RollbackDialog id={d.id} />
  }
}

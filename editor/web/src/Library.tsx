// Example flows and the local flow library, from the main menu:
// Import → Examples (the flows Runnel ships, GET /library/examples),
// Import → Library (entries saved on the server, GET /library/flows) and
// Export → Save to library (the selection, or the current flow when nothing
// is selected, under a name). Importing inserts copies (new ids), as a paste
// does, so an example or entry can be inserted more than once.
import { useEffect, useState, useSyncExternalStore } from 'react'
import './sidebar.css'
import { canDeploy } from './auth'
import { parseFlowText } from './flowjson'
import {
  deleteLibraryEntry, getExample, getLibraryEntry, libraryNameProblem, listExamples, listLibrary, saveLibraryEntry,
  type ExampleInfo, type LibraryEntry,
} from './sidebarApi'
import { exportText, getState, importText, notify } from './store'

type Which = 'examples' | 'library' | 'save' | null

let which: Which = null
const subs = new Set<() => void>()

/** Opens one of the dialogs (null closes it). */
export function openLibrary(w: Which) {
  which = w
  subs.forEach((l) => l())
}

function useWhich(): Which {
  return useSyncExternalStore(
    (l) => {
      subs.add(l)
      return () => subs.delete(l)
    },
    () => which,
  )
}

function Modal({ title, children, buttons }: { title: string; children: React.ReactNode; buttons: React.ReactNode }) {
  useEffect(() => {
    const k = (e: KeyboardEvent) => e.key === 'Escape' && openLibrary(null)
    window.addEventListener('keydown', k)
    return () => window.removeEventListener('keydown', k)
  }, [])
  return (
    <div className="rn-modal-back" onMouseDown={(e) => e.target === e.currentTarget && openLibrary(null)}>
      <div className="rn-modal" role="dialog" aria-label={title} aria-modal="true">
        <div className="rn-modal-head">{title}</div>
        <div className="rn-modal-body">{children}</div>
        <div className="rn-modal-foot">{buttons}</div>
      </div>
    </div>
  )
}

function insert(text: string, what: string) {
  const r = importText(text, 'copy')
  openLibrary(null)
  notify('success', `Imported ${what}: ${r.nodes.length} node${r.nodes.length === 1 ? '' : 's'}`)
}

function Examples() {
  const [list, setList] = useState<ExampleInfo[]>()
  const [err, setErr] = useState('')
  useEffect(() => {
    listExamples().then(setList, (e) => setErr(e.message))
  }, [])
  const pick = async (ex: ExampleInfo) => {
    try {
      insert(await getExample(ex.name), `example “${ex.label}”`)
    } catch (e) {
      setErr((e as Error).message)
    }
  }
  return (
    <Modal title="Import an example flow" buttons={<button onClick={() => openLibrary(null)}>Close</button>}>
      {err && <div className="rn-field-error" role="alert">{err}</div>}
      {!list && !err && <div className="rn-muted">Loading…</div>}
      <ul className="rn-lib-list" data-testid="examples-list">
        {list?.map((ex) => (
          <li key={ex.name}>
            <button onClick={() => pick(ex)} data-testid="example" data-name={ex.name}>
              <span className="rn-lib-name">{ex.label}</span>
              <span className="rn-muted">
                {ex.name} · {ex.nodes} nodes
              </span>
              {ex.info && <span className="rn-lib-info">{ex.info}</span>}
            </button>
          </li>
        ))}
      </ul>
    </Modal>
  )
}

function Library() {
  const [list, setList] = useState<LibraryEntry[]>()
  const [err, setErr] = useState('')
  const [asking, setAsking] = useState('')
  const load = () => listLibrary().then(setList, (e) => setErr(e.message))
  useEffect(() => {
    load()
  }, [])
  const pick = async (name: string) => {
    try {
      insert(await getLibraryEntry(name), `“${name}”`)
    } catch (e) {
      setErr((e as Error).message)
    }
  }
  const del = async (name: string) => {
    try {
      await deleteLibraryEntry(name)
    } catch (e) {
      setErr((e as Error).message)
    }
    setAsking('')
    load()
  }
  return (
    <Modal title="Insert from the library" buttons={<button onClick={() => openLibrary(null)}>Close</button>}>
      {err && <div className="rn-field-error" role="alert">{err}</div>}
      {list && list.length === 0 && <div className="rn-muted">The library is empty: select nodes and use Export → Save to library.</div>}
      <ul className="rn-lib-list" data-testid="library-list">
        {list?.map((e) => (
          <li key={e.name} className="rn-lib-entry">
            <button onClick={() => pick(e.name)} data-testid="library-entry" data-name={e.name}>
              <span className="rn-lib-name">{e.name}</span>
              <span className="rn-muted">
                {new Date(e.modified).toLocaleString()} · {(e.size / 1024).toFixed(1)} KiB
              </span>
            </button>
            {canDeploy() &&
              (asking === e.name ? (
                <span className="rn-ctx-confirm">
                  delete? <button onClick={() => del(e.name)}>yes</button> <button onClick={() => setAsking('')}>no</button>
                </span>
              ) : (
                <button className="rn-ctx-del" onClick={() => setAsking(e.name)} aria-label={`Delete ${e.name}`} title="Delete">
                  ✕
                </button>
              ))}
          </li>
        ))}
      </ul>
    </Modal>
  )
}

function Save() {
  const selected = getState().selected.size > 0
  const [name, setName] = useState('')
  const [err, setErr] = useState('')
  const [existing, setExisting] = useState<Set<string>>(new Set())
  useEffect(() => {
    listLibrary().then((l) => setExisting(new Set(l.map((e) => e.name))), () => {})
  }, [])
  const problem = libraryNameProblem(name.trim())
  const save = async () => {
    const n = name.trim()
    if (problem) return
    try {
      const flow = parseFlowText(exportText(selected ? 'selected' : 'flow', false, false))
      await saveLibraryEntry(n, flow)
      openLibrary(null)
      notify('success', `Saved to the library: ${n}`)
    } catch (e) {
      setErr((e as Error).message)
    }
  }
  return (
    <Modal
      title="Save to library"
      buttons={
        <>
          <button onClick={() => openLibrary(null)}>Cancel</button>
          <button className="primary" onClick={save} disabled={!!problem || !canDeploy()} data-testid="library-save">
            {existing.has(name.trim()) ? 'Replace' : 'Save'}
          </button>
        </>
      }
    >
      <div className="rn-row">
        <label htmlFor="lib-name">Save {selected ? 'the selected nodes' : 'the current flow'} as</label>
        <input
          id="lib-name"
          autoFocus
          value={name}
          maxLength={64}
          onChange={(e) => {
            setName(e.target.value)
            setErr('')
          }}
          onKeyDown={(e) => e.key === 'Enter' && save()}
          data-testid="library-name"
        />
      </div>
      {name && problem && <div className="rn-field-error">{problem}</div>}
      {!problem && existing.has(name.trim()) && <div className="rn-muted">An entry of that name exists: saving replaces it.</div>}
      {err && <div className="rn-field-error" role="alert">{err}</div>}
    </Modal>
  )
}

export function LibraryDialogs() {
  const w = useWhich()
  if (w === 'examples') return <Examples />
  if (w === 'library') return <Library />
  if (w === 'save') return <Save />
  return null
}

// The editor's frame: header with the Deploy button, palette, workspace,
// sidebar, tray, dialogs, notifications, and the keyboard and clipboard.
import { ReactFlowProvider } from '@xyflow/react'
import { useEffect, useState } from 'react'
import { canDeploy, login, logout, useAuth } from './auth'
import { Canvas, flowInstance, pointer } from './Canvas'
import { Dialogs } from './Dialogs'
import { isFlowNode } from './flowjson'
import { LibraryDialogs, openLibrary } from './Library'
import { MainLayout } from './Layout'
import { useConnection } from './live'
import { openSearch, useNavKeys } from './nav'
import { QuickAdd } from './QuickAdd'
import { Search } from './Search'
import { Palette } from './Palette'
import { Sidebar } from './Sidebar'
import { createSubflowAction, selectionToSubflowAction } from './Subflows'
import {
  closeTray, copySelection, cutSelection, deleteSelection, deploy, dismiss, duplicateSelection, getState, importText,
  internalClipboard, isDirty, moveNodes, openTray, redo, reveal, selectAll, setState, undo, useEditor,
} from './store'
import { Tray } from './Tray'
import type { DeployType } from './types'
import { UnknownTypesNotice } from './Unknown'

const deployLabels: Record<DeployType, string> = { full: 'Full', flows: 'Modified Flows', nodes: 'Modified Nodes' }
const deployHelp: Record<DeployType, string> = {
  full: 'Deploys everything in the workspace',
  flows: 'Only deploys flows that contain changed nodes',
  nodes: 'Only deploys nodes that have changed',
}

function DeployButton() {
  const dirty = useEditor(isDirty)
  const deploying = useEditor((s) => s.deploying)
  const type = useEditor((s) => s.deployType)
  const readOnly = useAuth().role === 'read'
  const [open, setOpen] = useState(false)
  useEffect(() => {
    if (!open) return
    const h = () => setOpen(false)
    const k = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false)
    window.addEventListener('click', h)
    window.addEventListener('keydown', k)
    return () => {
      window.removeEventListener('click', h)
      window.removeEventListener('keydown', k)
    }
  }, [open])
  return (
    <div className="rn-deploy">
      <button
        className={'rn-deploy-main' + (dirty ? ' dirty' : '')}
        disabled={!dirty || deploying || readOnly}
        onClick={() => deploy(type)}
        title={readOnly ? 'Read-only: your role cannot deploy' : dirty ? `Deploy (${deployLabels[type]}) · Ctrl+D` : 'No changes to deploy'}
        data-testid="deploy"
      >
        {deploying ? <span className="rn-spin" /> : null}
        Deploy{type !== 'full' ? <span className="rn-deploy-type"> · {deployLabels[type]}</span> : null}
      </button>
      <button
        className={'rn-deploy-menu' + (dirty ? ' dirty' : '')}
        aria-label="Deploy options"
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={(e) => {
          e.stopPropagation()
          setOpen(!open)
        }}
        data-testid="deploy-menu"
      >
        ▾
      </button>
      {open && (
        <div className="rn-dropdown" role="menu">
          {(Object.keys(deployLabels) as DeployType[]).map((t) => (
            <button key={t} role="menuitemradio" aria-checked={t === type} onClick={() => setState({ deployType: t })}>
              <span className="check">{t === type ? '✓' : ''}</span>
              <span>
                <b>{deployLabels[t]}</b>
                <small>{deployHelp[t]}</small>
              </span>
            </button>
          ))}
        </div>
      )}
    </div>
  )
}

function MainMenu() {
  const [open, setOpen] = useState(false)
  const canUndo = useEditor((s) => s.undo.length > 0)
  const canRedo = useEditor((s) => s.redo.length > 0)
  const sidebarOpen = useEditor((s) => s.sidebarOpen)
  useEffect(() => {
    if (!open) return
    const h = () => setOpen(false)
    const k = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false)
    window.addEventListener('click', h)
    window.addEventListener('keydown', k)
    return () => {
      window.removeEventListener('click', h)
      window.removeEventListener('keydown', k)
    }
  }, [open])
  const item = (label: string, keys: string, fn: () => void, disabled = false) => (
    <button role="menuitem" disabled={disabled} onClick={fn}>
      <span>{label}</span>
      <kbd>{keys}</kbd>
    </button>
  )
  return (
    <div className="rn-mainmenu">
      <button className="rn-menu-btn" aria-label="Menu" aria-haspopup="menu" onClick={(e) => { e.stopPropagation(); setOpen(!open) }} data-testid="main-menu">
        ☰
      </button>
      {open && (
        <div className="rn-dropdown right" role="menu">
          {item('Import…', 'Ctrl+I', () => setState({ dialog: { kind: 'import' } }))}
          {item('Export…', 'Ctrl+E', () => setState({ dialog: { kind: 'export' } }))}
          {item('Import → Examples…', '', () => openLibrary('examples'))}
          {item('Import → Library…', '', () => openLibrary('library'))}
          {item('Export → Save to library…', '', () => openLibrary('save'))}
          {item('Search flows…', 'Ctrl+F', openSearch)}
          {item('Undo', 'Ctrl+Z', undo, !canUndo)}
          {item('Redo', 'Ctrl+Y', redo, !canRedo)}
          {/* Node-RED's View > Show sidebar: the one way to hide it without a keyboard (a tablet's canvas needs the room). */}
          {item(sidebarOpen ? 'Hide sidebar' : 'Show sidebar', 'Ctrl+Space', () => setState({ sidebarOpen: !sidebarOpen }))}
          {item('Config nodes', '', () => setState({ sidebar: 'config', sidebarOpen: true }))}
          {item('Revision history', '', () => setState({ sidebar: 'history', sidebarOpen: true }))}
          {item('Keyboard shortcuts', '?', () => setState({ dialog: { kind: 'keys' } }))}
          {item('Create Subflow', '', createSubflowAction)}
          {item('Selection to Subflow', '', selectionToSubflowAction, !getState().selected.size)}
        </div>
      )}
    </div>
  )
}

function Notices() {
  const notices = useEditor((s) => s.notices)
  const items = useEditor((s) => s.items)
  return (
    <div className="rn-notices">
      <UnknownTypesNotice />
      {notices.map((n) => (
        <div key={n.id} className={'rn-notice ' + n.kind} role={n.kind === 'error' ? 'alert' : 'status'} data-testid={'notice-' + n.kind} data-tag={n.tag}>
          <div className="rn-notice-text">
            {n.text}
            {n.problems?.length ? (
              <ul>
                {n.problems.map((p, i) => {
                  const o = p.id ? items.find((x) => x.id === p.id) : undefined
                  return (
                    <li key={i}>
                      {p.id ? (
                        <a href="#" onClick={(e) => { e.preventDefault(); reveal(p.id!) }}>
                          {(o?.name as string) || p.type || 'node'} <span className="mono">{p.id}</span>
                        </a>
                      ) : null}
                      {p.field ? ` ${p.field}` : ''}: {p.error}
                    </li>
                  )
                })}
              </ul>
            ) : null}
            {n.actions?.length ? (
              <div className="rn-notice-actions">
                {n.actions.map((a) => (
                  <button key={a.label} className={a.primary ? 'primary' : ''} title={a.title} onClick={a.run} data-testid={a.testid}>{a.label}</button>
                ))}
              </div>
            ) : null}
          </div>
          {n.actions?.length ? null : <button aria-label="Close" onClick={() => dismiss(n.id)}>×</button>}
        </div>
      ))}
    </div>
  )
}

/** The logged-in user and the logout button (only when the server asks for logins). */
function UserMenu() {
  const a = useAuth()
  if (a.phase !== 'in') return null
  return (
    <span className="rn-user">
      <span data-testid="user" title={a.role === 'read' ? 'Read-only: you can look but not deploy' : 'Full access'}>
        {a.user}
        {a.role === 'read' ? <span className="rn-role"> · read-only</span> : null}
      </span>
      <button className="rn-logout" onClick={() => logout()} data-testid="logout">Log out</button>
    </span>
  )
}

/** The login form, shown when the server asks for a login. */
function LoginPage({ reason }: { reason?: string }) {
  const [user, setUser] = useState('')
  const [pw, setPw] = useState('')
  const [error, setError] = useState<string | undefined>()
  const [busy, setBusy] = useState(false)
  const submit = async (e: React.FormEvent) => {
    e.preventDefault()
    setBusy(true)
    setError(undefined)
    const err = await login(user, pw)
    setBusy(false)
    if (err) {
      setError(err)
      setPw('')
    }
  }
  return (
    <div className="rn-login">
      <form className="rn-login-box" onSubmit={submit} data-testid="login-form">
        <h1>Log in to Runnel</h1>
        {reason && !error ? <p className="rn-login-reason">{reason}</p> : null}
        <label>
          Username
          <input type="text" name="username" autoComplete="username" autoFocus value={user} onChange={(e) => setUser(e.target.value)} data-testid="login-user" />
        </label>
        <label>
          Password
          <input type="password" name="password" autoComplete="current-password" value={pw} onChange={(e) => setPw(e.target.value)} data-testid="login-password" />
        </label>
        {error ? <p className="rn-login-error" role="alert" data-testid="login-error">{error}</p> : null}
        <button className="primary" type="submit" disabled={busy || !user} data-testid="login-submit">
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </div>
  )
}

function ConnectionDot() {
  const c = useConnection()
  return (
    <>
      {c === 'closed' && <span className="rn-conn-text">Lost connection to the server, reconnecting…</span>}
      <span className={'rn-conn ' + c} title={c === 'open' ? 'Connected' : c === 'connecting' ? 'Connecting…' : 'Lost connection to the server; reconnecting'} data-testid="connection" data-state={c} />
    </>
  )
}

const isEditable = (t: EventTarget | null) => {
  const el = t as HTMLElement | null
  if (!el || !el.tagName) return false
  return el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)
}

/** Pastes flow JSON at the mouse, or next to where it came from. */
function pasteText(text: string) {
  const s = getState()
  const at = pointer.flow ?? undefined
  try {
    if (at) importText(text, 'copy', { at: { x: Math.round(at.x / 20) * 20, y: Math.round(at.y / 20) * 20 } })
    else {
      const taken = new Set(s.items.filter((o) => o.z === s.tab && isFlowNode(o)).map((o) => `${o.x},${o.y}`))
      let offset = { x: 0, y: 0 }
      try {
        const objs = JSON.parse(text) as { x?: number; y?: number }[]
        if (Array.isArray(objs) && objs.some((o) => taken.has(`${o.x},${o.y}`))) offset = { x: 40, y: 40 }
      } catch {
        /* not JSON: importText reports it */
      }
      importText(text, 'copy', { offset })
    }
  } catch (e) {
    setState({ notices: [...s.notices] })
    // Not a flow: nothing to paste.
    void e
  }
}

function useKeyboard() {
  useEffect(() => {
    let pastePending = 0
    const onKey = (e: KeyboardEvent) => {
      const s = getState()
      const ctrl = e.ctrlKey || e.metaKey
      const k = e.key.toLowerCase()
      if (k === 'escape') {
        if (s.dialog) setState({ dialog: null })
        else if (s.trays.length) closeTray(false)
        else if (s.selected.size || s.selectedEdges.size) setState({ selected: new Set(), selectedEdges: new Set() })
        return
      }
      if (ctrl && k === 'd' && !e.shiftKey) {
        e.preventDefault()
        if (isDirty() && canDeploy()) deploy(s.deployType)
        return
      }
      if (s.dialog || s.trays.length) return
      if (isEditable(e.target)) return
      if (ctrl && k === 'z' && !e.shiftKey) { e.preventDefault(); undo(); return }
      if (ctrl && (k === 'y' || (k === 'z' && e.shiftKey))) { e.preventDefault(); redo(); return }
      if (ctrl && k === 'a') { e.preventDefault(); selectAll(); return }
      if (ctrl && e.shiftKey && k === 'd') { e.preventDefault(); duplicateSelection(); return }
      if (ctrl && k === 'i') { e.preventDefault(); setState({ dialog: { kind: 'import' } }); return }
      if (ctrl && k === 'e') { e.preventDefault(); setState({ dialog: { kind: 'export' } }); return }
      if (ctrl && k === ' ') { e.preventDefault(); setState({ sidebarOpen: !s.sidebarOpen }); return }
      if (ctrl && (k === '=' || k === '+')) { e.preventDefault(); flowInstance?.zoomIn(); return }
      if (ctrl && k === '-') { e.preventDefault(); flowInstance?.zoomOut(); return }
      if (ctrl && k === '0') { e.preventDefault(); flowInstance?.fitView({ padding: 0.15 }); return }
      if (ctrl && k === 'c') {
        // The copy event fills the system clipboard; keep our own copy as well.
        copySelection()
        return
      }
      if (ctrl && k === 'v') {
        // Wait for the paste event (system clipboard); fall back to our own clipboard.
        clearTimeout(pastePending)
        pastePending = window.setTimeout(() => {
          pastePending = 0
          const t = internalClipboard()
          if (t) pasteText(t)
        }, 80)
        return
      }
      if (k === 'delete' || k === 'backspace') { e.preventDefault(); deleteSelection(); return }
      if (k === 'enter' && s.selected.size === 1) { e.preventDefault(); openTray([...s.selected][0]); return }
      if (k === '?' ) { setState({ dialog: { kind: 'keys' } }); return }
      if (k.startsWith('arrow') && s.selected.size) {
        e.preventDefault()
        const d = e.shiftKey ? 20 : 1
        const dx = k === 'arrowleft' ? -d : k === 'arrowright' ? d : 0
        const dy = k === 'arrowup' ? -d : k === 'arrowdown' ? d : 0
        const pos = new Map<string, { x: number; y: number }>()
        for (const o of s.items) if (s.selected.has(o.id) && isFlowNode(o)) pos.set(o.id, { x: o.x! + dx, y: o.y! + dy })
        moveNodes(pos)
      }
    }
    const onCopy = (e: ClipboardEvent) => {
      if (isEditable(e.target) || getState().dialog || getState().trays.length) return
      const text = copySelection()
      if (!text) return
      e.clipboardData?.setData('text/plain', text)
      e.preventDefault()
    }
    const onCut = (e: ClipboardEvent) => {
      if (isEditable(e.target) || getState().dialog || getState().trays.length) return
      const text = cutSelection()
      if (!text) return
      e.clipboardData?.setData('text/plain', text)
      e.preventDefault()
    }
    const onPaste = (e: ClipboardEvent) => {
      if (isEditable(e.target) || getState().dialog || getState().trays.length) return
      const text = e.clipboardData?.getData('text/plain') ?? ''
      if (!text.trim()) return
      clearTimeout(pastePending)
      pastePending = 0
      e.preventDefault()
      pasteText(text)
    }
    const onUnload = (e: BeforeUnloadEvent) => {
      if (isDirty()) e.preventDefault()
    }
    window.addEventListener('keydown', onKey)
    document.addEventListener('copy', onCopy)
    document.addEventListener('cut', onCut)
    document.addEventListener('paste', onPaste)
    window.addEventListener('beforeunload', onUnload)
    return () => {
      window.removeEventListener('keydown', onKey)
      document.removeEventListener('copy', onCopy)
      document.removeEventListener('cut', onCut)
      document.removeEventListener('paste', onPaste)
      window.removeEventListener('beforeunload', onUnload)
    }
  }, [])
}

export function App() {
  const auth = useAuth()
  if (auth.phase === 'login') return <LoginPage reason={auth.reason} />
  if (auth.phase === 'checking') return <div className="rn-loading">Loading…</div>
  return <Editor />
}

function Editor() {
  const loaded = useEditor((s) => s.loaded)
  const loadError = useEditor((s) => s.loadError)
  const sidebarOpen = useEditor((s) => s.sidebarOpen)
  const trayOpen = useEditor((s) => s.trays.length > 0)
  useKeyboard()
  useNavKeys()
  useEffect(() => {
    if (!loaded) return
    // "Palette populated and canvas drawn": the load-time mark the browser tests read.
    requestAnimationFrame(() =>
      requestAnimationFrame(() => {
        performance.mark('runnel-ready')
        ;(window as unknown as { __runnelReady: number }).__runnelReady = performance.now()
      }),
    )
  }, [loaded])
  return (
    <div className={'rn-app' + (sidebarOpen ? '' : ' no-sidebar')}>
      <header className="rn-header">
        <span className="rn-logo">
          <svg width="22" height="22" viewBox="0 0 22 22" aria-hidden="true">
            <path d="M2 15c4-8 7 4 11-4s5-3 7-5" fill="none" stroke="#8fd3ff" strokeWidth="2.4" strokeLinecap="round" />
          </svg>
          Runnel
        </span>
        <span className="rn-spacer" />
        <ConnectionDot />
        <UserMenu />
        <DeployButton />
        <MainMenu />
      </header>
      {loadError ? (
        <div className="rn-load-error" role="alert">Could not load the editor: {loadError}</div>
      ) : !loaded ? (
        <div className="rn-loading">Loading…</div>
      ) : (
        <ReactFlowProvider>
          <MainLayout palette={<Palette />} canvas={<Canvas />} sidebar={<Sidebar />}>
            {trayOpen && <Tray />}
          </MainLayout>
          <Dialogs />
          <Search />
          <QuickAdd />
          <LibraryDialogs />
        </ReactFlowProvider>
      )}
      <Notices />
    </div>
  )
}

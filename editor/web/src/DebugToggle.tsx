// The debug node's on/off button on the right of its box, as in Node-RED:
// a click turns the running node on or off at once (POST /debug/ID/enable or
// disable, no deploy) and flips the node's active property in the editor,
// which marks the node changed so that the next deploy saves it. A node that
// is not deployed, or has other undeployed changes, only has its property
// flipped: the deploy starts it that way.
import './sidebar.css'
import { canDeploy } from './auth'
import { setDebugActive } from './sidebarApi'
import { commit, getState, nodeLabel, notify, typeOf } from './store'
import { deepEqual } from './flowjson'
import type { FlowObj } from './types'

export async function toggleDebug(id: string) {
  const s = getState()
  const o = s.items.find((x) => x.id === id)
  if (!o) return
  const on = o.active === false
  const next = { ...o, active: on }
  commit(s.items.map((x) => (x === o ? next : x)))
  const dep = s.deployedMap.get(id)
  // Only the running node's own state: the deployed one, up to active.
  if (!dep || !deepEqual({ ...dep, active: on }, next)) return
  try {
    await setDebugActive(id, on)
    notify('success', `Successfully ${on ? 'activated' : 'deactivated'}: ${nodeLabel(next, typeOf(next.type))}`, undefined, 2000)
  } catch (e) {
    notify('error', (e as Error).message, undefined, 5000)
  }
}

export function DebugToggle({ obj }: { obj: FlowObj }) {
  const on = obj.active !== false
  const allowed = canDeploy()
  return (
    <button
      className={'rn-debug-toggle nodrag nopan' + (on ? ' on' : '')}
      title={!allowed ? 'Read-only: your role cannot change the flows' : on ? 'Turn off: the node shows nothing' : 'Turn on'}
      disabled={!allowed}
      aria-label={on ? 'Deactivate debug node' : 'Activate debug node'}
      aria-pressed={on}
      data-testid="debug-toggle"
      onClick={(e) => {
        e.stopPropagation()
        toggleDebug(obj.id)
      }}
      onDoubleClick={(e) => e.stopPropagation()}
    >
      <span />
    </button>
  )
}

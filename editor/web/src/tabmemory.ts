// The open flow tab, remembered across reloads (per server: localStorage is
// per origin). A tab that is gone falls back to the first one.
import type { FlowObj } from './types'

const key = 'runnel-editor-tab'

/** The remembered tab when items still has it. */
export function savedTab(items: FlowObj[]): string | undefined {
  let id: string | null = null
  try {
    id = localStorage.getItem(key)
  } catch {
    return undefined // storage blocked
  }
  return id && items.some((o) => o.id === id && o.type === 'tab') ? id : undefined
}

export function rememberTab(id: string) {
  try {
    localStorage.setItem(key, id)
  } catch {
    /* storage blocked or full: nothing to remember it in */
  }
}

// useStable: a function whose identity never changes and that calls the
// latest render's version. For callbacks given to React Flow: it copies every
// changed prop into its store, and passes node callbacks to every node's
// wrapper, so a new arrow function on each render of the canvas costs a
// round of all the store's subscribers (each node, edge and port of the flow)
// and a re-render of every node, on every step of a drag.
import { useCallback, useLayoutEffect, useRef } from 'react'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function useStable<T extends (...args: any[]) => any>(fn: T): T {
  const ref = useRef(fn)
  useLayoutEffect(() => {
    ref.current = fn
  })
  return useCallback(((...args: Parameters<T>) => ref.current(...args)) as T, [])
}

// Level of detail on the canvas. Zoomed out, a flow of thousands of nodes is
// thousands of boxes a few pixels high: their ports are too small to wire
// and their icons too small to see, yet each port is a React Flow handle
// that listens to React Flow's store (every pan, zoom and drag step asks
// every handle whether it changed) and each icon is an SVG to paint. So
// below 50 % nodes are drawn without ports and icons (edges keep their ends:
// the ports' positions are given to React Flow up front, see handlesFor), and
// below 30 % without their labels' text. One subscription (the canvas's)
// follows the zoom; nodes read the level from a context, so they re-render
// only when the level changes.
import { useStore } from '@xyflow/react'
import { createContext, useContext } from 'react'
import './zoomDetail.css'

/** 0: everything; 1: no ports or icons (zoom < 0.5); 2: no label text either (zoom < 0.3). */
export type Detail = 0 | 1 | 2

export const detailFor = (zoom: number): Detail => (zoom < 0.3 ? 2 : zoom < 0.5 ? 1 : 0)

export const DetailContext = createContext<Detail>(0)

/** The canvas's level of detail, for the current zoom (call under ReactFlowProvider). */
export function useDetailLevel(): Detail {
  return useStore((s) => detailFor(s.transform[2]))
}

export function useDetail(): Detail {
  return useContext(DetailContext)
}

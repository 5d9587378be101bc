// Level of detail on the canvas. Zoomed out, a flow of thousands of nodes is
// thousands of boxes a few pixels high: their ports are too small to wire
// and their icons too small to see, yet each port is a React Flow handle
// that listens to React Flow's store (every pan, zoom and drag step asks
// every handle whether it changed) and each icon is an SVG to paint. So
// below 50 % nodes are drawn without icons, and their ports are plain
// elements that look like React Flow's handles and that React Flow measures
// as handles (so that wires keep their ends) but that listen to nothing and
// cannot start a wire; below 30 % labels are not painted either. One
// subscription (the canvas's) follows the zoom; nodes read the level from a
// context, so they re-render only when the level changes. A tab of 300 nodes
// or more is drawn on a <canvas> at levels 1 and 2 instead (CanvasLOD.tsx).
import { Handle, Position, useStore } from '@xyflow/react'
import { createContext, useContext } from 'react'
import './zoomDetail.css'

/** 0: everything; 1: no icons, ports not wirable (zoom < 0.5); 2: no label text either (zoom < 0.3). */
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

interface PortProps {
  full: boolean
  nodeId: string
  id: string
  type: 'source' | 'target'
  position: Position
  top: number
}

/**
 * A node's port: React Flow's Handle at full detail; else an element with the
 * classes and data attributes React Flow measures handles by (it measures a
 * node's handles from the DOM when the node mounts or resizes; a node with no
 * handle elements would lose its wires).
 */
export function Port({ full, nodeId, id, type, position, top }: PortProps) {
  if (full) return <Handle type={type} position={position} id={id} className="rn-port" style={{ top }} />
  return (
    <div
      className={`react-flow__handle react-flow__handle-${position} nodrag nopan ${type} rn-port`}
      data-handleid={id}
      data-nodeid={nodeId}
      data-handlepos={position}
      style={{ top }}
    />
  )
}

// One node on the canvas, drawn as Node-RED draws it: a coloured box with its
// label, an input port on the left, one port per output on the right, the
// status under it, and (Runnel's own) its live rates above it.
import { Position, type Node, type NodeProps } from '@xyflow/react'
import { memo } from 'react'
import { useRate, useStatus } from './live'
import { fireInject } from './store'
import { DebugToggle } from './DebugToggle'
import { Port, useDetail } from './zoomDetail'
import { useLod } from './CanvasLOD'
import type { FlowObj, NodeType, Problem } from './types'

export interface NodeData extends Record<string, unknown> {
  obj: FlowObj
  type?: NodeType
  label: string
  w: number
  h: number
  inputs: number
  outputs: number
  changed: boolean
  problems?: Problem[]
  deployed: boolean
  iconRight: boolean
}

export type RFNode = Node<NodeData, 'flow'>

export const gridSize = 20
const portSpacing = 13

let measureCtx: CanvasRenderingContext2D | null = null
const widthCache = new Map<string, number>()

export function textWidth(s: string): number {
  let w = widthCache.get(s)
  if (w !== undefined) return w
  if (!measureCtx) {
    measureCtx = document.createElement('canvas').getContext('2d')
    if (measureCtx) measureCtx.font = '14px Helvetica, Arial, sans-serif'
  }
  w = measureCtx ? measureCtx.measureText(s).width : s.length * 7.5
  if (widthCache.size > 5000) widthCache.clear()
  widthCache.set(s, w)
  return w
}

/** Node-RED's node size: at least 100 wide, in steps of 20; 30 high, more for many outputs. */
export function nodeSize(label: string, inputs: number, outputs: number): { w: number; h: number } {
  const w = Math.max(100, 20 * Math.ceil((textWidth(label) + 50 + (inputs > 0 ? 7 : 0)) / 20))
  const h = Math.max(30, outputs * 15)
  return { w, h }
}

export function outputY(h: number, outputs: number, i: number): number {
  return h / 2 - ((outputs - 1) / 2) * portSpacing + portSpacing * i
}

/** The ports' positions, given up front so that React Flow need not measure 500 nodes. */
export function handlesFor(w: number, h: number, inputs: number, outputs: number) {
  const hs: { id: string; type: 'source' | 'target'; position: Position; x: number; y: number; width: number; height: number }[] = []
  if (inputs > 0) hs.push({ id: 'i', type: 'target', position: Position.Left, x: -5, y: h / 2 - 5, width: 10, height: 10 })
  for (let i = 0; i < outputs; i++) {
    hs.push({ id: 'o' + i, type: 'source', position: Position.Right, x: w - 5, y: outputY(h, outputs, i) - 5, width: 10, height: 10 })
  }
  return hs
}

/**
 * The icons the editor draws, by Node-RED's icon file names (a type's icon in
 * GET /nodes); small line drawings, none fetched from the web.
 */
const icons: Record<string, string> = {
  'bridge.svg': 'M3 14c0-6 5-10 11-10 M3 14c0-3 3-6 7-6 M3 14h2',
  'json.svg': 'M7 3c-3 0-2 4-2 5s-2 1-2 1 2 0 2 1-1 5 2 5 M13 3c3 0 2 4 2 5s2 1 2 1-2 0-2 1 1 5-2 5',
  'rbe.png': 'M3 4h14l-5 6v5l-4 2v-7z',
  'template.svg': 'M4 4h12M4 8h12M4 12h8M4 16h10',
  'debug.svg': 'M4 5h12M4 10h12M4 15h12',
  'inject.svg': 'M3 10h10M9 5l5 5-5 5',
  'comment.svg': 'M3 4h14v9H9l-4 3v-3H3z',
  'function.svg': 'M6 16c2 0 2-2 3-6s1-6 4-6M6 9h7',
  'swap.svg': 'M4 7h11l-3-3M16 13H5l3 3',
  'switch.svg': 'M3 10h5M8 10l8-5M8 10h8M8 10l8 5',
  'range.svg': 'M3 15L10 5l7 10M6 11h8',
  'subflow.svg': 'M2 6h5v8H2zM13 6h5v8h-5zM7 10h6',
}
const categoryIcons: Record<string, string> = { function: 'function.svg' }

function Icon({ icon, category }: { icon?: string; category?: string }) {
  const d = icons[icon ?? ''] ?? icons[categoryIcons[category ?? ''] ?? ''] ?? 'M10 4a6 6 0 1 0 0.01 0M10 8v4'
  return (
    <svg width="20" height="20" viewBox="0 0 20 20" aria-hidden="true">
      <path d={d} fill="none" stroke="#fff" strokeWidth="1.8" strokeLinecap="round" strokeLinejoin="round" />
    </svg>
  )
}

function fmtRate(r: number): string {
  if (!r) return '0'
  if (r < 10) return r.toFixed(1).replace(/\.0$/, '')
  if (r < 10000) return String(Math.round(r))
  return (r / 1000).toFixed(0) + 'k'
}

const Rates = memo(function Rates({ id }: { id: string }) {
  const r = useRate(id)
  // Nodes that have seen no message since the deploy stay quiet.
  if (!r || (!r.inTotal && !r.outTotal && !r.errTotal)) return null
  return (
    <div className="rn-rates" data-testid="rates" title={`in ${r.inTotal} · out ${r.outTotal} · errors ${r.errTotal} since deploy`}>
      <span className="rn-rate-in">in {fmtRate(r.in)}/s</span>
      <span className="rn-rate-out">out {fmtRate(r.out)}/s</span>
      {r.errTotal > 0 && <span className="rn-rate-err">{r.errTotal} err</span>}
      {!!r.queued && <span className="rn-rate-queued" data-testid="queued">{r.queued} queued</span>}
    </div>
  )
})

const Status = memo(function Status({ id }: { id: string }) {
  const s = useStatus(id)
  if (!s) return null
  return (
    <div className="rn-status" data-testid="status">
      {(s.fill || s.shape) && <span className={`rn-status-shape ${s.shape === 'ring' ? 'ring' : 'dot'} fill-${s.fill ?? 'grey'}`} />}
      <span className="rn-status-text">{s.text}</span>
    </div>
  )
})

function FlowNodeView({ id, data, selected }: NodeProps<RFNode>) {
  const { obj, type, label, w, h, inputs, outputs, changed, problems, deployed } = data
  const color = type?.color ?? (type ? '#ddd' : '#fff')
  const cls = ['rn-node']
  if (selected) cls.push('selected')
  if (problems?.length) cls.push('invalid')
  if (!type) cls.push('unknown')
  if (obj.d === true) cls.push('disabled')
  const button = type?.button
  const iconRight = data.iconRight
  // Zoomed out (zoomDetail.tsx): no icons, and ports that draw but cannot start a wire.
  const full = useDetail() === 0
  // A tab of 300 nodes or more below 50 % is drawn on a canvas (CanvasLOD.tsx): nothing here to mount or keep.
  if (useLod()) return null
  return (
    <div className={cls.join(' ')} style={{ width: w, height: h }} data-type={obj.type} data-id={id}>
      {button && (
        <button
          className="rn-inject nodrag nopan"
          title={deployed ? button : 'Deploy first to use the button'}
          disabled={!deployed}
          onClick={(e) => {
            e.stopPropagation()
            fireInject(id)
          }}
          aria-label={button}
        >
          <span />
        </button>
      )}
      <div className="rn-body" style={{ background: color }}>
        {!iconRight && full && (
          <div className="rn-icon left">
            <Icon icon={type?.icon} category={type?.category} />
          </div>
        )}
        <div className={'rn-label' + (iconRight ? ' right' : '')}>{label}</div>
        {iconRight && full && (
          <div className="rn-icon right">
            <Icon icon={type?.icon} category={type?.category} />
          </div>
        )}
      </div>
      {obj.type === 'debug' && <DebugToggle obj={obj} />}
      {inputs > 0 && <Port full={full} nodeId={id} type="target" position={Position.Left} id="i" top={h / 2} />}
      {Array.from({ length: outputs }, (_, i) => (
        <Port key={i} full={full} nodeId={id} type="source" position={Position.Right} id={'o' + i} top={outputY(h, outputs, i)} />
      ))}
      {changed && <div className="rn-changed" title="changed, not deployed" />}
      {problems?.length ? (
        <div className="rn-error-mark" data-testid="error-mark" title={problems.map((p) => (p.field && p.field !== 'wires' ? p.field + ': ' : '') + p.error).join('\n')}>
          !
        </div>
      ) : null}
      <Rates id={id} />
      <div className="rn-under">
        <Status id={id} />
        {problems?.length ? (
          <div className="rn-problem" data-testid="node-problem">
            {problems.map((p, i) => (
              <div key={i}>{(p.field && p.field !== 'wires' ? p.field + ': ' : '') + p.error}</div>
            ))}
          </div>
        ) : null}
      </div>
    </div>
  )
}

/**
 * Re-rendered only when what it draws changes: React Flow passes a node's
 * position (and dragging) as props too, and a dragged selection of hundreds
 * of nodes would otherwise re-render every one of them on every step, though
 * React Flow moves them with their wrappers' transforms.
 */
export const FlowNode = memo(FlowNodeView, (a, b) => a.id === b.id && a.data === b.data && a.selected === b.selected)

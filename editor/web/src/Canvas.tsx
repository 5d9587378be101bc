// The workspace: flow tabs and the React Flow canvas of the current tab.
import {
  Controls, MiniMap, ReactFlow, SelectionMode, useReactFlow,
  type Connection, type Edge, type EdgeChange, type NodeChange, type ReactFlowInstance,
} from '@xyflow/react'
import { useCallback, useDeferredValue, useEffect, useMemo, useRef, useState } from 'react'
import { isFlowNode, isTab } from './flowjson'
import { FlowNode, gridSize, handlesFor, nodeSize, type NodeData, type RFNode as FlowRFNode } from './FlowNode'
import { descendants, isGroup, layoutGroups, type GroupLayout } from './groups'
import { MinimapButton, useMinimap } from './Layout'
import { useStable } from './stable'
import { DetailContext, useDetailLevel } from './zoomDetail'
import { CanvasLOD, LodContext, canvasFor, canvasMinNodes, useZoomHold } from './CanvasLOD'
import { GroupBox, GroupToolbar, groupNodes, groupSelectionAction, ungroupAction, useGroupKeys, type GroupRFNode } from './Groups'
import { openQuickAddAt } from './nav'
import {
  addNode, addTab, connect, copySelection, deleteSelection, duplicateSelection, edgeId, getState, isChanged,
  moveNodes, nodeLabel, notify, onReveal, openTray, outputsOf, setState, setTab, sizeOfNode, useEditor, type State,
} from './store'
import { coarsePointer, keepInWindow, useCanvasTouch } from './touch'
import type { FlowObj, NodeType } from './types'
import { GroupDropHint, dragOverGroups, dropOnGroupAfterDrag } from './groupdrop'
import { LinkLines } from './LinkLines'
import { Grid } from './Grid'
import { SubflowBar, SubflowPort, SubflowPropsDialog, SubflowTabs, portRFEdges, portRFNodes, selectionToSubflowAction, type PortRFNode } from './Subflows'

const nodeTypes = { flow: FlowNode, rngroup: GroupBox, sfport: SubflowPort }
// React Flow's props are given once (module constants, useStable callbacks): see stable.ts.
const nodeOrigin: [number, number] = [0.5, 0.5]
const snapGrid: [number, number] = [gridSize, gridSize]
const panOnDrag = [1, 2]
const multiSelectionKeyCode = ['Control', 'Meta', 'Shift']
const defaultEdgeOptions = { type: 'default', interactionWidth: 12 }
/** Below 30 % (zoomDetail.tsx) wires are not clickable: no invisible wide path to click them by. */
const defaultEdgeOptionsFar = { type: 'default', interactionWidth: 0 }
/** Under a coarse pointer (a finger) wires are wider to hit. */
const defaultEdgeOptionsCoarse = { type: 'default', interactionWidth: 24 }
const proOptions = { hideAttribution: true }
/** React Flow's wires while the canvas draws them (CanvasLOD.tsx): none, so that none listens to its store. */
const noEdges: Edge[] = []
/** The canvas's nodes: flow nodes, the boxes of groups (Groups.tsx), a subflow's ports (Subflows.tsx). */
type RFNode = FlowRFNode | GroupRFNode | PortRFNode

interface CacheEntry {
  o: FlowObj
  t: NodeType | undefined
  sel: boolean
  changed: boolean
  problems: unknown
  deployed: boolean
  x: number
  y: number
  rf: FlowRFNode
}

/** Where the mouse last was over the canvas, in flow coordinates (paste goes there). */
export const pointer: { flow: { x: number; y: number } | null } = { flow: null }
export let flowInstance: ReactFlowInstance<RFNode, Edge> | null = null

function Tabs() {
  const items = useEditor((s) => s.items)
  const tab = useEditor((s) => s.tab)
  const problemMap = useEditor((s) => s.problemMap)
  const tabList = useMemo(() => items.filter(isTab), [items])
  const bad = useMemo(() => {
    const b = new Set<string>()
    for (const o of items) if (problemMap.has(o.id) && o.z) b.add(o.z)
    return b
  }, [items, problemMap])
  return (
    <div className="rn-tabs" role="tablist">
      {tabList.map((t) => (
        <div
          key={t.id}
          role="tab"
          aria-selected={t.id === tab}
          className={'rn-tab' + (t.id === tab ? ' active' : '') + (t.disabled ? ' disabled' : '') + (bad.has(t.id) ? ' invalid' : '')}
          onClick={() => setTab(t.id)}
          onDoubleClick={() => setState({ dialog: { kind: 'tab', id: t.id } })}
          title="Double-click to edit the flow's name, state and description"
          data-tab={t.id}
        >
          {String(t.label ?? t.id)}
        </div>
      ))}
      <SubflowTabs />
      <button className="rn-tab-add" title="Add a flow" aria-label="Add flow" onClick={addTab}>+</button>
    </div>
  )
}

interface Menu {
  x: number
  y: number
  flow: { x: number; y: number }
}

export function Canvas() {
  const items = useEditor((s) => s.items)
  const tab = useEditor((s) => s.tab)
  const selected = useEditor((s) => s.selected)
  const selectedEdges = useEditor((s) => s.selectedEdges)
  const problemMap = useEditor((s) => s.problemMap)
  const deployedMap = useEditor((s) => s.deployedMap)
  const typeMap = useEditor((s) => s.typeMap)
  const minimap = useMinimap()
  const detail = useDetailLevel()
  const [drag, setDrag] = useState<Map<string, { x: number; y: number }>>(new Map())
  const [menu, setMenu] = useState<Menu | null>(null)
  const cache = useRef(new Map<string, CacheEntry>())
  const rf = useReactFlow<RFNode, Edge>()
  const wrap = useRef<HTMLDivElement>(null)
  const dragged = useRef(false)
  /** Where each dragged group's box was when the drag started. */
  const groupStart = useRef(new Map<string, { x: number; y: number }>())
  const tabObj = useMemo(() => items.find((o) => o.id === tab), [items, tab])
  const flowCount = useMemo(() => items.reduce((n, o) => (o.z === tab && isFlowNode(o) && !isGroup(o) ? n + 1 : n), 0), [items, tab])
  /**
   * Zoomed out, a large flow is drawn on a canvas (CanvasLOD.tsx). Deferred: zooming in past the threshold renders
   * the nodes' elements in a transition React can interrupt, the canvas drawing meanwhile, instead of in one frame.
   */
  const lodRef = useRef(false)
  const holding = useZoomHold(lodRef, flowCount >= canvasMinNodes)
  const lod = useDeferredValue(canvasFor(detail, flowCount) || (holding && flowCount >= canvasMinNodes))
  lodRef.current = lod
  const coarse = useMemo(coarsePointer, [])

  useEffect(() => {
    flowInstance = rf as unknown as ReactFlowInstance<RFNode, Edge>
  }, [rf])

  // The groups' boxes follow their members, live while they are dragged.
  const groupLayout = useMemo(() => layoutGroups(items, tab, sizeOfNode, drag), [items, tab, drag, typeMap])
  const layoutRef = useRef<Map<string, GroupLayout>>(groupLayout)
  layoutRef.current = groupLayout
  useGroupKeys()

  const nodes = useMemo(() => {
    const s = getState() as State
    const out: FlowRFNode[] = []
    const next = new Map<string, CacheEntry>()
    for (const o of items) {
      if (o.z !== tab || !isFlowNode(o) || isGroup(o)) continue
      const sel = selected.has(o.id)
      const changed = isChanged(o, s)
      const problems = problemMap.get(o.id)
      const dep = deployedMap.has(o.id)
      const p = drag.get(o.id)
      const x = p ? p.x : (o.x as number)
      const y = p ? p.y : (o.y as number)
      const c = cache.current.get(o.id)
      const t = typeMap.get(o.type)
      if (c && c.o === o && c.t === t && c.sel === sel && c.changed === changed && c.problems === problems && c.deployed === dep && c.x === x && c.y === y) {
        next.set(o.id, c)
        out.push(c.rf)
        continue
      }
      let rfNode: FlowRFNode
      if (c && c.o === o && c.t === t && c.sel === sel && c.changed === changed && c.problems === problems && c.deployed === dep) {
        rfNode = { ...c.rf, position: { x, y } }
      } else {
        const label = nodeLabel(o, t)
        const inputs = t ? t.inputs : 1
        const outputs = outputsOf(o, t)
        const { w, h } = nodeSize(label, inputs, outputs)
        const data: NodeData = {
          obj: o, type: t, label, w, h, inputs, outputs, changed, problems, deployed: dep,
          iconRight: inputs > 0 && outputs === 0,
        }
        rfNode = {
          id: o.id,
          type: 'flow',
          position: { x, y },
          data,
          selected: sel,
          width: w,
          height: h,
          measured: { width: w, height: h },
          handles: handlesFor(w, h, inputs, outputs),
        }
      }
      next.set(o.id, { o, t, sel, changed, problems, deployed: dep, x, y, rf: rfNode })
      out.push(rfNode)
    }
    cache.current = next
    const ports = portRFNodes(items, tab, selected, drag)
    if (!groupLayout.size && !ports.length) return out as RFNode[]
    return [...groupNodes(items, groupLayout, selected), ...out, ...ports] as RFNode[]
  }, [items, tab, selected, problemMap, deployedMap, typeMap, drag, groupLayout])

  const edgeCache = useRef(new Map<string, Edge>())
  const edges = useMemo(() => {
    const onTab = new Set<string>()
    for (const o of items) if (o.z === tab && isFlowNode(o)) onTab.add(o.id)
    const out: Edge[] = []
    const next = new Map<string, Edge>()
    for (const o of items) {
      if (!onTab.has(o.id) || !o.wires) continue
      o.wires.forEach((port, i) => {
        if (!Array.isArray(port)) return
        for (const t of port) {
          if (!onTab.has(t)) continue
          const id = edgeId(o.id, i, t)
          const sel = selectedEdges.has(id)
          let e = edgeCache.current.get(id)
          if (!e || !!e.selected !== sel) e = { id, source: o.id, sourceHandle: 'o' + i, target: t, targetHandle: 'i', selected: sel }
          next.set(id, e)
          out.push(e)
        }
      })
    }
    edgeCache.current = next
    const ports = portRFEdges(items, tab, selectedEdges)
    return ports.length ? [...out, ...ports] : out
  }, [items, tab, selectedEdges])

  const onNodesChange = useCallback((changes: NodeChange<RFNode>[]) => {
    let sel: Set<string> | null = null
    let dragging: Map<string, { x: number; y: number }> | null = null
    let done: Map<string, { x: number; y: number }> | null = null
    for (const c of changes) {
      if (c.type === 'select') {
        sel ??= new Set(getState().selected)
        if (c.selected) sel.add(c.id)
        else sel.delete(c.id)
      } else if (c.type === 'position') {
        if (c.dragging && c.position) {
          dragging ??= new Map()
          dragging.set(c.id, c.position)
        } else if (c.dragging === false) {
          done ??= new Map()
          if (c.position) done.set(c.id, c.position)
        }
      }
    }
    if (sel) setState({ selected: sel })
    // A group dragged moves its nodes (snapped to the grid) with it.
    const s = getState()
    const groupIds = [...(dragging?.keys() ?? []), ...(done?.keys() ?? [])].filter((id) => layoutRef.current.has(id))
    if (groupIds.length) {
      const byId = new Map(s.items.map((o) => [o.id, o]))
      for (const m of [dragging, done]) {
        if (!m) continue
        const moved = new Set(m.keys())
        for (const id of [...m.keys()]) {
          if (!layoutRef.current.has(id)) continue
          const p = m.get(id)!
          m.delete(id)
          let start = groupStart.current.get(id)
          if (!start) {
            const l = layoutRef.current.get(id)!
            start = { x: l.x, y: l.y }
            groupStart.current.set(id, start)
          }
          const dx = snap(p.x - start.x)
          const dy = snap(p.y - start.y)
          for (const c of descendants(s.items, [id])) {
            const o = byId.get(c)
            if (!o || isGroup(o) || moved.has(c) || typeof o.x !== 'number' || typeof o.y !== 'number') continue
            m.set(c, { x: o.x + dx, y: o.y + dy })
          }
        }
      }
      if (done) groupStart.current.clear()
    }
    if (dragging) {
      const d = dragging
      setDrag((prev) => {
        const n = new Map(prev)
        for (const [k, v] of d) n.set(k, v)
        return n
      })
    }
    if (done) {
      const fin = done
      setDrag((prev) => {
        const all = new Map(prev)
        for (const [k, v] of fin) all.set(k, v)
        if (all.size) queueMicrotask(() => moveNodes(all))
        return new Map()
      })
    }
  }, [])

  const onEdgesChange = useCallback((changes: EdgeChange<Edge>[]) => {
    let sel: Set<string> | null = null
    for (const c of changes) {
      if (c.type === 'select') {
        sel ??= new Set(getState().selectedEdges)
        if (c.selected) sel.add(c.id)
        else sel.delete(c.id)
      }
    }
    if (sel) setState({ selectedEdges: sel })
  }, [])

  const onConnect = useCallback((c: Connection) => {
    if (!c.source || !c.target) return
    const port = Number((c.sourceHandle ?? 'o0').slice(1)) || 0
    connect(c.source, port, c.target)
  }, [])

  const onDrop = useCallback(
    (e: React.DragEvent) => {
      const type = e.dataTransfer.getData('application/x-runnel-type')
      if (!type) return
      e.preventDefault()
      // A subflow cannot contain itself (Node-RED refuses the drop too).
      if (type === 'subflow:' + getState().tab) return notify('error', 'Cannot add a subflow to itself')
      const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY })
      addNode(type, snap(p.x), snap(p.y))
    },
    [rf],
  )

  // A node revealed on another tab: that tab opens centred on it, not fitted or where it was.
  const revealing = useRef<{ z?: string; at: number } | null>(null)
  useEffect(
    () =>
      onReveal((o) => {
        revealing.current = { z: o.z, at: performance.now() }
        // A node's x and y are its centre; a group's box is where its members are.
        const box = isGroup(o) && o.z ? layoutGroups(getState().items, o.z, sizeOfNode).get(o.id) : undefined
        const x = box ? box.x + box.w / 2 : o.x ?? 0
        const y = box ? box.y + box.h / 2 : o.y ?? 0
        requestAnimationFrame(() => rf.setCenter(x, y, { zoom: Math.max(rf.getZoom(), 1), duration: 300 }))
      }),
    [rf],
  )
  const revealingOn = (t: string) => !!revealing.current && revealing.current.z === t && performance.now() - revealing.current.at < 1000

  // Each tab keeps its own viewport; a tab shown for the first time is fitted.
  const viewports = useRef(new Map<string, { x: number; y: number; zoom: number }>())
  const shownTab = useRef<string | null>(null)
  useEffect(() => {
    if (shownTab.current) viewports.current.set(shownTab.current, rf.getViewport())
    shownTab.current = tab
    if (revealingOn(tab)) return
    const saved = viewports.current.get(tab)
    if (saved) {
      rf.setViewport(saved)
      return
    }
    requestAnimationFrame(() => {
      if (revealingOn(tab)) return
      if (getState().items.some((o) => o.z === tab && isFlowNode(o))) rf.fitView({ maxZoom: 1, padding: 0.15 })
      else rf.setViewport({ x: 0, y: 0, zoom: 1 })
    })
  }, [tab, rf])

  useEffect(() => {
    if (!menu) return
    const close = (e: KeyboardEvent) => e.key === 'Escape' && setMenu(null)
    window.addEventListener('keydown', close)
    return () => window.removeEventListener('keydown', close)
  }, [menu])

  const onMouseMove = useCallback(
    (e: React.MouseEvent) => {
      pointer.flow = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY })
    },
    [rf],
  )

  const openMenuAt = (x: number, y: number) => {
    const r = wrap.current!.getBoundingClientRect()
    setMenu({ x: x - r.left, y: y - r.top, flow: rf.screenToFlowPosition({ x, y }) })
  }
  const closeMenu = useStable(() => setMenu(null))
  // The canvas's drag of nodes in groups: the groups' boxes follow them as they do a drag in the DOM.
  const onGroupedDrag = useStable((m: Map<string, { x: number; y: number }> | null) => setDrag(m ? new Map(m) : new Map()))
  const openMenu = useStable((e: React.MouseEvent | MouseEvent) => {
    e.preventDefault()
    openMenuAt(e.clientX, e.clientY)
  })
  // A finger's long press is the right click: on a node it selects it first, as onNodeContextMenu does, and on a
  // wire it selects the wire (a finger has no Delete key: the menu's Delete is how a wire goes).
  useCanvasTouch(wrap, {
    onLongPress: (x, y, { node, edge }) => {
      if (node && !getState().selected.has(node)) setState({ selected: new Set([node]), selectedEdges: new Set() })
      else if (edge) setState({ selected: new Set(), selectedEdges: new Set([edge]) })
      openMenuAt(x, y)
    },
    onPaneTap: () => {
      setMenu(null)
      const s = getState()
      if (s.selected.size || s.selectedEdges.size) setState({ selected: new Set(), selectedEdges: new Set() })
    },
  })

  return (
    <div className={'rn-workspace' + (tabObj?.disabled ? ' flow-disabled' : '') + (tabObj?.type === 'subflow' ? ' rn-subflow-space' : '')}>
      <Tabs />
      <SubflowBar />
      <SubflowPropsDialog />
      <div
        className={'rn-canvas rn-detail-' + detail + (lod ? ' rn-lod' : '')}
        ref={wrap}
        onDragOver={(e) => {
          if (e.dataTransfer.types.includes('application/x-runnel-type')) {
            e.preventDefault()
            e.dataTransfer.dropEffect = 'copy'
          }
        }}
        onDrop={onDrop}
        onMouseMove={onMouseMove}
        onMouseLeave={() => (pointer.flow = null)}
        onClick={() => setMenu(null)}
        data-testid="canvas"
      >
        <DetailContext.Provider value={detail}>
        <LodContext.Provider value={lod}>
        <ReactFlow<RFNode, Edge>
          nodes={nodes}
          edges={lod ? noEdges : edges}
          nodeTypes={nodeTypes}
          onNodesChange={onNodesChange}
          onEdgesChange={onEdgesChange}
          onConnect={onConnect}
          onNodeDoubleClick={useStable((_, n) => openTray(n.id))}
          onNodeDragStart={useStable((_, n) => {
            dragged.current = true
            // As in Node-RED, grabbing a group selects it.
            if (n.type === 'rngroup' && !getState().selected.has(n.id)) setState({ selected: new Set([n.id]), selectedEdges: new Set() })
          })}
          // The click that ends a drag comes before this timer; a drag that ends with no click must not swallow the next one.
          onNodeDrag={useStable((e: MouseEvent | TouchEvent, _n: RFNode, dragged_: RFNode[]) => {
            const pt = 'changedTouches' in e ? e.changedTouches[0] : e
            const ids = dragged_.filter((x) => x.type === 'flow').map((x) => x.id)
            if (pt) dragOverGroups(ids, rf.screenToFlowPosition({ x: pt.clientX, y: pt.clientY }), e.altKey)
          })}
          onNodeDragStop={useStable((e: MouseEvent | TouchEvent, _n: RFNode, dragged_: RFNode[]) => {
            setTimeout(() => (dragged.current = false), 0)
            // Dropped on a group, or dragged out of one with Alt (groupdrop.ts).
            const ids = dragged_.filter((x) => x.type === 'flow').map((x) => x.id)
            const pt = 'changedTouches' in e ? e.changedTouches[0] : e
            if (ids.length && pt) dropOnGroupAfterDrag(ids, rf.screenToFlowPosition({ x: pt.clientX, y: pt.clientY }), e.altKey)
          })}
          onNodeClick={useStable((e, n) => {
            // As in Node-RED, a click (not a drag) on a node of a selection selects that node alone.
            if (dragged.current) {
              dragged.current = false
              return
            }
            if (e.ctrlKey || e.metaKey || e.shiftKey) {
              // React Flow toggles the nodes it selects; a group's box is ours to toggle.
              if (n.type === 'rngroup') {
                const sel = new Set(getState().selected)
                if (sel.has(n.id)) sel.delete(n.id)
                else sel.add(n.id)
                setState({ selected: sel })
              }
              return
            }
            const s = getState()
            if (s.selected.size !== 1 || !s.selected.has(n.id) || s.selectedEdges.size) setState({ selected: new Set([n.id]), selectedEdges: new Set() })
          })}
          onNodeContextMenu={useStable((e, n) => {
            if (!getState().selected.has(n.id)) setState({ selected: new Set([n.id]), selectedEdges: new Set() })
            openMenu(e)
          })}
          onPaneContextMenu={openMenu}
          onSelectionContextMenu={openMenu}
          onSelectionEnd={useStable(() => {
            // React Flow selects the wires of the nodes a rubber band selects; on the canvas it has none.
            if (!lodRef.current) return
            const sel = getState().selected
            setState({ selectedEdges: new Set(edges.filter((e) => sel.has(e.source) || sel.has(e.target)).map((e) => e.id)) })
          })}
          onPaneClick={useStable((e) => {
            setMenu(null)
            // React Flow clears the selected wires it has; on the canvas it has none.
            if (lodRef.current && getState().selectedEdges.size) setState({ selectedEdges: new Set() })
            // Ctrl+click (Cmd+click) on the empty canvas: quick-add there.
            if (e.ctrlKey || e.metaKey) openQuickAddAt(e.clientX, e.clientY)
          })}
          nodeOrigin={nodeOrigin}
          snapToGrid
          snapGrid={snapGrid}
          onlyRenderVisibleElements
          selectionOnDrag
          selectionMode={SelectionMode.Partial}
          panOnDrag={panOnDrag}
          panOnScroll
          zoomOnDoubleClick={false}
          deleteKeyCode={null}
          selectionKeyCode={null}
          multiSelectionKeyCode={multiSelectionKeyCode}
          disableKeyboardA11y
          minZoom={0.1}
          maxZoom={4}
          defaultEdgeOptions={detail === 2 ? defaultEdgeOptionsFar : coarse ? defaultEdgeOptionsCoarse : defaultEdgeOptions}
          connectionRadius={coarse ? 40 : 24}
          // A finger's first move reaches the page only past the browser's touch slop; React Flow anchors a drag at the
          // first move, so a node would trail the finger by that much: anchor it where the finger went down instead.
          nodeDragThreshold={coarse ? 0 : 1}
          proOptions={proOptions}
          elevateNodesOnSelect={false}
        >
          {/* Zoomed out far, the grid is a grey blur of lines a pixel or two apart: none. */}
          {detail < 2 && <Grid gap={gridSize} color="#f2f2f2" />}
          {minimap && <MiniMap pannable zoomable nodeColor={(n) => (n.type === 'rngroup' ? 'transparent' : (n.data as NodeData).type?.color ?? '#ddd')} nodeStrokeColor="#999" />}
          <GroupToolbar />
          <GroupDropHint />
          <LinkLines />
          {lod && (
            <CanvasLOD
              wrap={wrap}
              edges={edges}
              onContextMenu={openMenuAt}
              onClick={closeMenu}
              onGroupedDrag={onGroupedDrag}
            />
          )}
          <Controls showInteractive={false}>
            <MinimapButton />
          </Controls>
        </ReactFlow>
        </LodContext.Provider>
        </DetailContext.Provider>
        {tabObj?.disabled ? <div className="rn-flow-disabled-banner">This flow is disabled: its nodes do not run</div> : null}
        {menu && (
          <div className="rn-menu" key={`${menu.x},${menu.y}`} ref={keepInWindow} style={{ left: menu.x, top: menu.y }} onClick={() => setMenu(null)} role="menu">
            <MenuItem label="Edit…" keys="Enter" disabled={getState().selected.size !== 1} onClick={() => openTray([...getState().selected][0])} />
            <MenuItem label="Copy" keys="Ctrl+C" disabled={!getState().selected.size} onClick={() => navigatorCopy(copySelection())} />
            <MenuItem label="Duplicate" keys="Ctrl+Shift+D" disabled={!getState().selected.size} onClick={duplicateSelection} />
            <MenuItem label="Delete" keys="Delete" disabled={!getState().selected.size && !getState().selectedEdges.size} onClick={deleteSelection} />
            <hr />
            <MenuItem label="Group selection" keys="Ctrl+Shift+G" disabled={!getState().selected.size} onClick={groupSelectionAction} />
            <MenuItem label="Ungroup" keys="Ctrl+Shift+U" disabled={!getState().items.some((o) => isGroup(o) && getState().selected.has(o.id))} onClick={ungroupAction} />
            <MenuItem label="Selection to Subflow" disabled={!getState().selected.size || tabObj?.type === 'subflow'} onClick={selectionToSubflowAction} />
            <hr />
            <MenuItem label="Import…" keys="Ctrl+I" onClick={() => setState({ dialog: { kind: 'import' } })} />
            <MenuItem label="Export…" keys="Ctrl+E" onClick={() => setState({ dialog: { kind: 'export' } })} />
          </div>
        )}
      </div>
    </div>
  )
}

function MenuItem({ label, keys, disabled, onClick }: { label: string; keys?: string; disabled?: boolean; onClick: () => void }) {
  return (
    <button role="menuitem" disabled={disabled} onClick={onClick}>
      <span>{label}</span>
      {keys && <kbd>{keys}</kbd>}
    </button>
  )
}

export function navigatorCopy(text: string) {
  if (!text) return
  navigator.clipboard?.writeText(text).catch(() => {})
}

export const snap = (v: number) => Math.round(v / gridSize) * gridSize

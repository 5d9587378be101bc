// The workspace search (Ctrl+F), as Node-RED's "Search flows": every tab's
// nodes, groups and config nodes by name, type, id and settings; arrows and
// Enter, or a click, jump to the result.
import { useEffect, useMemo, useRef, useState } from 'react'
import { closeSearch, jumpTo, onListKey, searchFlows, useNav, type Hit } from './nav'
import './nav.css'
import { typeOf, useEditor } from './store'

/** Results shown at most (the count says how many matched). */
const maxShown = 100

export function Search() {
  const open = useNav((n) => n.search)
  return open ? <SearchBox /> : null
}

function SearchBox() {
  const items = useEditor((s) => s.items)
  const [q, setQ] = useState('')
  const [active, setActive] = useState(0)
  const list = useRef<HTMLDivElement>(null)
  const hits = useMemo(() => searchFlows(items, q), [items, q])
  const shown = hits.slice(0, maxShown)
  useEffect(() => setActive(0), [q])
  useEffect(() => {
    list.current?.querySelector('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' })
  }, [active])
  const go = (h: Hit | undefined) => {
    if (!h) return
    closeSearch()
    jumpTo(h.o.id)
  }
  const onKey = (e: React.KeyboardEvent) =>
    onListKey(e, { close: closeSearch, count: shown.length, setActive, choose: () => go(shown[active]) })
  return (
    <div className="rn-search-back" onMouseDown={(e) => e.target === e.currentTarget && closeSearch()}>
      <div className="rn-search" role="dialog" aria-label="Search flows" data-testid="search">
        <input
          type="search"
          autoFocus
          placeholder="Search flows: name, type, id or any setting"
          value={q}
          onChange={(e) => setQ(e.target.value)}
          onKeyDown={onKey}
          role="combobox"
          aria-expanded={shown.length > 0}
          aria-controls="rn-search-results"
          aria-activedescendant={shown[active] ? 'rn-search-' + shown[active].o.id : undefined}
          data-testid="search-input"
        />
        {q.trim() ? (
          <div className="rn-search-count" data-testid="search-count">
            {hits.length === 0 ? 'No matches' : hits.length === 1 ? '1 match' : `${hits.length} matches`}
            {hits.length > maxShown ? ` (first ${maxShown} shown)` : ''}
          </div>
        ) : null}
        <div className="rn-search-results" role="listbox" id="rn-search-results" ref={list}>
          {shown.map((h, i) => {
            const t = typeOf(h.o.type)
            return (
              <div
                key={h.o.id}
                id={'rn-search-' + h.o.id}
                role="option"
                aria-selected={i === active}
                className="rn-search-hit"
                onMouseMove={() => i !== active && setActive(i)}
                onClick={() => go(h)}
                data-testid="search-result"
                data-id={h.o.id}
              >
                <span className="rn-nav-swatch" style={{ background: h.o.type === 'tab' ? '#fff' : t?.color ?? '#ddd' }} />
                <span className="rn-search-main">
                  <span className="rn-search-label">{h.label}</span>
                  {h.prop ? (
                    <span className="rn-search-prop">
                      {h.prop}: <span className="mono">{h.value}</span>
                    </span>
                  ) : null}
                </span>
                <span className="rn-search-type">{h.o.type}</span>
                <span className="rn-search-where">{h.where}</span>
              </div>
            )
          })}
        </div>
      </div>
    </div>
  )
}

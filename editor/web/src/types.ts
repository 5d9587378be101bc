// The shapes the admin API speaks (see editor/api.go and flows/).

/** One object of a flow document: a tab, a flow node or a config node. Unknown properties are kept. */
export interface FlowObj {
  id: string
  type: string
  z?: string
  name?: string
  x?: number
  y?: number
  wires?: string[][]
  [prop: string]: unknown
}

export type FieldKind =
  | 'string' | 'select' | 'boolean' | 'integer' | 'number' | 'json' | 'node' | 'code' | 'password' | 'hidden'
  | 'typed' | 'list'
  | (string & {})

/** Where a list entry's value lives when it has none of its own (inject's payload and topic). */
export interface TopLevel {
  key: string
  value: string
  type?: string
}

/** One setting of a node type, from its Go config struct (engine.Field). */
export interface Field {
  name: string
  label?: string
  kind: FieldKind
  default?: unknown
  options?: string[]
  /** The labels of options, in the same order. */
  optionLabels?: string[]
  /** A select that also takes other values: the label of that choice. */
  other?: string
  required?: boolean
  nodeType?: string
  lang?: string
  help?: string
  min?: number
  max?: number
  /** A typed field's TypedInput types, the first being the default. */
  types?: string[]
  /** The labels of types, in the same order (engine.Field.TypeLabels). */
  typeLabels?: string[]
  /** The types that take no value: no text box (engine.Field.NoValue). */
  noValue?: string[]
  /** The property that holds a typed field's type. */
  typeProp?: string
  /** The fields of each entry of a list field. */
  item?: Field[]
  topLevel?: TopLevel[]
  /** Shown only while each property has one of the values. */
  showIf?: Record<string, string[]>
  /** The form tab the field is on (engine.Field.Tab). */
  tab?: string
}

/** One way of labelling a node (engine.LabelRule). */
export interface LabelRule {
  if?: Record<string, string[]>
  text: string
}

/** One entry of GET /nodes. */
export interface NodeType {
  type: string
  category: string
  label?: string
  inputs: number
  outputs: number
  color?: string
  help?: string
  config?: boolean
  fields: Field[] | null
  module?: string
  nodeRed?: string
  labels?: LabelRule[]
  icon?: string
  button?: string
  outputsFrom?: string
  credentials?: Record<string, string>
  credentialFields?: Field[]
}

/** One problem of a rejected deploy. */
export interface Problem {
  id?: string
  type?: string
  field?: string
  line?: number
  error: string
}

export type DeployType = 'full' | 'flows' | 'nodes'

export interface StatusData {
  fill?: string
  shape?: string
  text?: string
}

export interface Rate {
  in: number
  out: number
  err: number
  inTotal: number
  outTotal: number
  errTotal: number
  /** Messages the node holds (a delay's queue, a join's groups), for nodes that hold any. */
  queued?: number
}

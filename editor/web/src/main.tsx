import '@xyflow/react/dist/style.css'
import './styles.css'
import { createRoot } from 'react-dom/client'
import { App } from './App'
import { connect } from './live'
import { load } from './store'

load()
connect()
createRoot(document.getElementById('root')!).render(<App />)

import '@xyflow/react/dist/style.css'
import './styles.css'
import { createRoot } from 'react-dom/client'
import { App } from './App'
import { startAuth } from './auth'
import { connect } from './live'
import { load } from './store'
import { startChecking } from './validation'

// Load the flows and open the websocket once logged in (at once when no login is needed).
startAuth(() => {
  load()
  connect()
  startChecking()
})
createRoot(document.getElementById('root')!).render(<App />)

// The page's script: defines the components; index.html holds <tv-app>.
import './tv-app.js';

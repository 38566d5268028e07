// Types for what vite adds to modules: import.meta.env and `?inline` / asset imports.
/// <reference types="vite/client" />

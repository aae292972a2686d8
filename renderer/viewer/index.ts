// The image viewer (the only module that touches cornerstone / dicom-parser).
export { Viewer, type ViewerProps } from './Viewer.tsx';
export { configureViewerCache, DEFAULT_CACHE_BYTES } from './engine.ts';

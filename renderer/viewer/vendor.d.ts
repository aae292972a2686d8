// Minimal typings for the parts of cornerstone-core 2.6, cornerstone-wado-image-loader 4.13 and
// dicom-parser 1.8 the viewer uses (the packages ship no TypeScript declarations).
declare module 'cornerstone-core' {
  export interface CsImage {
    imageId: string;
    minPixelValue: number;
    maxPixelValue: number;
    slope: number;
    intercept: number;
    windowCenter: number | number[] | undefined;
    windowWidth: number | number[] | undefined;
    rows: number;
    columns: number;
    height: number;
    width: number;
    color: boolean;
    invert: boolean;
    sizeInBytes: number;
    getPixelData(): ArrayLike<number>;
    data?: { string(tag: string): string | undefined; byteArray: Uint8Array };
  }
  export interface Voi {
    windowWidth: number;
    windowCenter: number;
  }
  export interface Viewport {
    scale: number;
    translation: { x: number; y: number };
    voi: Voi;
    invert: boolean;
    pixelReplication: boolean;
    rotation: number;
    hflip: boolean;
    vflip: boolean;
  }
  export interface EnabledElement {
    element: HTMLElement;
    image?: CsImage;
    viewport?: Viewport;
    canvas: HTMLCanvasElement;
  }
  export interface CornerstoneApi {
    events: EventTarget;
    EVENTS: Record<string, string>;
    enable(element: HTMLElement, options?: Record<string, unknown>): void;
    disable(element: HTMLElement): void;
    getEnabledElement(element: HTMLElement): EnabledElement;
    displayImage(element: HTMLElement, image: CsImage, viewport?: Partial<Viewport>): void;
    loadImage(imageId: string, options?: Record<string, unknown>): Promise<CsImage>;
    loadAndCacheImage(imageId: string, options?: Record<string, unknown>): Promise<CsImage>;
    getViewport(element: HTMLElement): Viewport | undefined;
    setViewport(element: HTMLElement, viewport: Partial<Viewport>): void;
    getDefaultViewportForImage(element: HTMLElement, image: CsImage): Viewport;
    reset(element: HTMLElement): void;
    resize(element: HTMLElement, forcedResize?: boolean): void;
    fitToWindow(element: HTMLElement): void;
    updateImage(element: HTMLElement, invalidated?: boolean): void;
    draw(element: HTMLElement): void;
    metaData: {
      addProvider(provider: (type: string, imageId: string) => unknown, priority?: number): void;
      get(type: string, imageId: string): unknown;
    };
    imageCache: {
      setMaximumSizeBytes(n: number): void;
      getCacheInfo(): { maximumSizeInBytes: number; cacheSizeInBytes: number; numberOfImagesCached: number };
      getImageLoadObject(imageId: string): { promise: Promise<CsImage> } | undefined;
      removeImageLoadObject(imageId: string): void;
      purgeCache(): void;
    };
  }
  const cornerstone: CornerstoneApi;
  export default cornerstone;
}

declare module 'cornerstone-wado-image-loader' {
  const loader: {
    external: { cornerstone: unknown; dicomParser: unknown };
    configure(options: Record<string, unknown>): void;
    webWorkerManager: {
      initialize(config: Record<string, unknown>): void;
      terminate(): void;
    };
    wadouri: {
      metaData: { metaDataProvider(type: string, imageId: string): unknown };
      dataSetCacheManager: {
        purge(): void;
        unload(uri: string): void;
        getInfo(): { cacheSizeInBytes: number; numberOfDataSetsCached: number };
      };
    };
  };
  export default loader;
}

declare module 'dicom-parser' {
  export interface Element {
    tag: string;
    vr?: string;
    length: number;
    dataOffset: number;
    encapsulatedPixelData?: boolean;
  }
  export interface DataSet {
    byteArray: Uint8Array;
    elements: Record<string, Element | undefined>;
    string(tag: string): string | undefined;
    uint16(tag: string): number | undefined;
    int16(tag: string): number | undefined;
    floatString(tag: string): number | undefined;
  }
  export function parseDicom(bytes: Uint8Array, options?: Record<string, unknown>): DataSet;
  const dicomParser: { parseDicom: typeof parseDicom };
  export default dicomParser;
}

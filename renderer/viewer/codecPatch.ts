// The wado loader's decode worker bundles four Emscripten/embind codecs (libjpeg-turbo, CharLS,
// OpenJPEG, OpenJPH). Embind builds two helpers with `new Function(...)`, which the app's CSP
// (script-src 'self' 'wasm-unsafe-eval', inherited by blob: workers) forbids, so every J2K,
// JPEG-LS and 8-bit JPEG decode would fail. This rewrites those two helpers in the worker source
// into the eval-free forms Emscripten itself emits with -sDYNAMIC_EXECUTION=0, so no
// 'unsafe-eval' is needed anywhere, and makes the inlined wasm load without fetch() (connect-src).
// Pure string transform; applied before the worker starts.

/** embind createNamedFunction: `new Function("body", "return function NAME() {...}")(body)`. */
const NAMED_FUNCTION =
  /new Function\("body","return function "\+(\w+)\+'\(\) \{\\n {4}"use strict"; {4}return body\.apply\(this, arguments\);\\n\};\\n'\)\((\w+)\)/g;

/** embind craftInvokerFunction(humanName, argTypes, classType, cppInvokerFunc, cppTargetFunc). */
const INVOKER =
  /function (\w+)\((\w+),(\w+),(\w+),(\w+),(\w+)\)\{var (\w+)=\3\.length;\7<2&&(\w+)\("argTypes array size mismatch![\s\S]*?\["throwBindingError","invoker","fn","runDestructors","retType","classParam"\],\w+=\[\w+,\w+,\w+,(\w+),[\s\S]*?\(Function,\w+\)\.apply\(null,\w+\)\}/g;

/** emval craftEmvalAllocator(argCount): builds `new constructor(arg0, …)` readers by eval. */
const EMVAL_ALLOCATOR =
  /function\((\w+)\)\{for\(var (\w+)="",(\w+)=0;\3<\1;\+\+\3\)\2\+=[\s\S]{0,900}?new Function\("requireRegisteredType","Module","valueToHandle","getMemory",\w+\)\((\w+),\w+,([\w.]+),\(\(\)=>(\w+)\)\)\}/g;

/** Inlined wasm as `data:application/wasm;…`, a prefix Emscripten does not recognise as inline. */
const WASM_DATA_URI = /"data:application\/wasm;base64,/g;
/** Emscripten's getBinaryPromise: fetch() or XHR first (both refused by connect-src for data:). */
const FETCH_BINARY =
  /if\(!(\w+)&&\((\w+)\|\|(\w+)\)\)\{if\("function"==typeof fetch&&!(\w+)\((\w+)\)\)return fetch\(\5,\{credentials:"same-origin"\}\)/g;

/** Emscripten's getBinary (sync): uses a sync XHR, also refused for data: URIs. */
const GET_BINARY = /function (\w+)\((\w+)\)\{try\{if\(\2==(\w+)&&(\w+)\)return new Uint8Array\(\4\);/g;

export interface CodecPatchResult {
  source: string;
  /** Inline wasm URIs relabelled, and wasm fetches of data: URIs skipped (decoded in place). */
  wasmInline: number;
  namedFunctions: number;
  invokers: number;
  allocators: number;
}

export function patchEmbindEval(source: string): CodecPatchResult {
  let namedFunctions = 0;
  let invokers = 0;
  let allocators = 0;
  let wasmInline = 0;
  let out = source.replace(NAMED_FUNCTION, (_m, name: string, body: string) => {
    namedFunctions++;
    return `{[${name}]:function(){"use strict";return ${body}.apply(this,arguments)}}[${name}]`;
  });
  out = out.replace(
    INVOKER,
    (_m, fn: string, humanName: string, argTypes: string, classType: string, invoker: string, target: string, _len: string, throwBindingError: string, runDestructors: string) => {
      invokers++;
      const [A, I, g, B, Q] = [humanName, argTypes, classType, invoker, target];
      return (
        `function ${fn}(${A},${I},${g},${B},${Q}){` +
        `var __fs_n=${I}.length;__fs_n<2&&${throwBindingError}("argTypes array size mismatch! Must at least get return value and 'this' types!");` +
        `var __fs_isClass=null!==${I}[1]&&null!==${g},__fs_needsStack=!1;` +
        `for(var __fs_o=1;__fs_o<${I}.length;++__fs_o)if(null!==${I}[__fs_o]&&void 0===${I}[__fs_o].destructorFunction){__fs_needsStack=!0;break}` +
        `var __fs_returns="void"!==${I}[0].name,__fs_expected=__fs_n-2;` +
        `return function(){` +
        `if(arguments.length!==__fs_expected)${throwBindingError}("function "+${A}+" called with "+arguments.length+" arguments, expected "+__fs_expected+" args!");` +
        `var __fs_destructors=__fs_needsStack?[]:null,__fs_args=[${Q}],__fs_thisWired,__fs_wired=new Array(__fs_expected);` +
        `if(__fs_isClass){__fs_thisWired=${I}[1].toWireType(__fs_destructors,this);__fs_args.push(__fs_thisWired)}` +
        `for(var __fs_k=0;__fs_k<__fs_expected;++__fs_k){__fs_wired[__fs_k]=${I}[__fs_k+2].toWireType(__fs_destructors,arguments[__fs_k]);__fs_args.push(__fs_wired[__fs_k])}` +
        `var __fs_rv=${B}.apply(null,__fs_args);` +
        `if(__fs_needsStack)${runDestructors}(__fs_destructors);` +
        `else for(var __fs_d=__fs_isClass?1:2;__fs_d<${I}.length;++__fs_d){var __fs_p=1===__fs_d?__fs_thisWired:__fs_wired[__fs_d-2];null!==${I}[__fs_d].destructorFunction&&${I}[__fs_d].destructorFunction(__fs_p)}` +
        `if(__fs_returns)return ${I}[0].fromWireType(__fs_rv)` +
        `}}`
      );
    },
  );
  out = out.replace(EMVAL_ALLOCATOR, (_m, count: string, _s: string, _i: string, requireType: string, toHandle: string, heap: string) => {
    allocators++;
    return (
      `function(${count}){return function(__fs_ctor,__fs_argTypes,__fs_args){var __fs_H=${heap},__fs_a=[];` +
      `for(var __fs_g=0;__fs_g<${count};++__fs_g){var __fs_t=${requireType}(__fs_H[__fs_argTypes>>2],"parameter "+__fs_g);__fs_a.push(__fs_t.readValueFromPointer(__fs_args));__fs_args+=__fs_t.argPackAdvance;__fs_argTypes+=4}` +
      `return ${toHandle}(Reflect.construct(__fs_ctor,__fs_a))}}`
    );
  });
  // The codecs' wasm is inlined as data: URIs. Labelled application/wasm, Emscripten fetches it
  // (instantiateStreaming), which connect-src 'self' refuses; labelled application/octet-stream
  // and with the data: fetch skipped, Emscripten decodes the base64 itself: no network, no CSP change.
  out = out.replace(WASM_DATA_URI, () => {
    wasmInline++;
    return '"data:application/octet-stream;base64,';
  });
  out = out.replace(FETCH_BINARY, (_m, wasmBinary: string, isWeb: string, isWorker: string, isFileUri: string, file: string) => {
    wasmInline++;
    return (
      `if(!${wasmBinary}&&(${isWeb}||${isWorker})&&!String(${file}).startsWith("data:")){` +
      `if("function"==typeof fetch&&!${isFileUri}(${file}))return fetch(${file},{credentials:"same-origin"})`
    );
  });
  out = out.replace(GET_BINARY, (m, _fn: string, file: string) => {
    wasmInline++;
    return (
      `${m}if(String(${file}).startsWith("data:")){` +
      `var __fs_b64=atob(${file}.slice(${file}.indexOf(",")+1)),__fs_bin=new Uint8Array(__fs_b64.length);` +
      `for(var __fs_q=0;__fs_q<__fs_b64.length;__fs_q++)__fs_bin[__fs_q]=__fs_b64.charCodeAt(__fs_q);return __fs_bin}`
    );
  });
  return { source: out, namedFunctions, invokers, allocators, wasmInline };
}

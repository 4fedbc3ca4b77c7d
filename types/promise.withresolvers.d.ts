// The es-shims package ships no types; its /auto entry only installs the shim.
declare module 'promise.withresolvers/auto'

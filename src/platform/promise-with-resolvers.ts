// js-libp2p v3 calls Promise.withResolvers, which Node 20 lacks. The es-shims package
// installs it only where it is missing (a no-op on Node 22+). Imported first by every
// entry point (library index, binary, benchmarks); tests load it through .mocharc.json.
import 'promise.withresolvers/auto'

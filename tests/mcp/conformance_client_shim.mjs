// Loaded into the conformance CLI (node --import) for the tools_call
// scenario only. The scenario server of @modelcontextprotocol/conformance
// 0.1.12 connects one SDK Server to a new transport on every POST, which
// SDK 1.26 and later refuse ("Already connected to a transport"), so with
// the SDK of tests/peers it answers the first POST and nothing else, for
// any client (the official TypeScript client included). Upstream fixed the
// scenario after that release (conformance pull request #134). This lets
// connect() replace the transport, as the SDK did before 1.26; a server
// that was never connected is unaffected.
import { Protocol } from "../peers/node_modules/@modelcontextprotocol/sdk/dist/esm/shared/protocol.js";

const connect = Protocol.prototype.connect;
Protocol.prototype.connect = function (transport) {
	const old = this._transport;
	if (old) {
		old.onclose = undefined;
		this._transport = undefined;
	}
	return connect.call(this, transport);
};

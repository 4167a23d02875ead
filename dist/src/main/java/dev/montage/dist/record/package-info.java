/**
 * What a result says about how it was made, in one vocabulary: the request in the API's names (the body of
 * {@code POST /v1/generations}, the {@code montage} PNG chunk, the server's sidecars, {@code generate --from}), the
 * AUTOMATIC1111 {@code parameters} text other tools read, and the content hashes of the pictures and model files.
 */
package dev.montage.dist.record;

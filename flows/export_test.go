package flows

// EncryptWithIV exposes encryptWithIV to the tests.
var EncryptWithIV = encryptWithIV

/* Initialisers of the transport contract's structs (engage/transport.h). */
#include "engage/transport.h"
#include "base/error.h"

ENG_API int eng_envelope_init(eng_envelope *x, unsigned int version)
{
    static const eng_envelope init = ENG_ENVELOPE_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(ENG__UPTO(eng_envelope, body_len), sizeof init), version, "eng_envelope");
}

ENG_API int eng_transport_methods_init(eng_transport_methods *x, unsigned int version)
{
    static const eng_transport_methods init = ENG_TRANSPORT_METHODS_INIT;
    return eng__struct_init(x, &init, ENG__SIZES(ENG__UPTO(eng_transport_methods, destroy), sizeof init), version, "eng_transport_methods");
}

// qpdf-made PDFs for the page-count tests (pdf_samples_qpdf.h). Compiled as C++17.
#define POINTERHOLDER_TRANSITION 4
#include "pdf_samples_qpdf.h"

#include <qpdf/Buffer.hh>
#include <qpdf/QPDF.hh>
#include <qpdf/QPDFWriter.hh>

namespace lpm::agent::test {

std::string rewritten_by_qpdf(const std::string &pdf, bool encrypt) {
  QPDF in;
  in.processMemoryFile("test", pdf.data(), pdf.size());
  QPDFWriter w(in);
  w.setOutputMemory();
  w.setObjectStreamMode(qpdf_o_generate);
  if (encrypt)
    w.setR6EncryptionParameters("", "owner", true, true, true, true, true, true, qpdf_r3p_full, true);
  w.write();
  auto buffer = w.getBufferSharedPointer();
  return std::string(reinterpret_cast<const char *>(buffer->getBuffer()), buffer->getSize());
}

} // namespace lpm::agent::test

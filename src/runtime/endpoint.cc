#include "runtime/endpoint.h"

namespace murmur::net {

using asio::ip::tcp;

Result<tcp::endpoint> ParseEndpoint(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::InvalidArgument("address '", address, "' is not HOST:PORT");
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = address.substr(colon + 1);
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(port_text, &used);
    if (used != port_text.size()) port = -1;
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    return Status::InvalidArgument("address '", address, "': port '", port_text,
                                   "' is not 0..65535");
  }
  asio::error_code ec;
  const asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) {
    return Status::InvalidArgument("address '", address, "': '", host,
                                   "' is not a numeric IP address");
  }
  return tcp::endpoint(ip, static_cast<uint16_t>(port));
}

std::string ToString(const tcp::endpoint& endpoint) {
  std::string out;
  if (endpoint.address().is_v6()) out.push_back('[');
  out.append(endpoint.address().to_string());
  if (endpoint.address().is_v6()) out.push_back(']');
  out.push_back(':');
  out.append(std::to_string(endpoint.port()));
  return out;
}

}  // namespace murmur::net

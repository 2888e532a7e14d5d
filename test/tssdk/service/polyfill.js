// SDK 1.17 calls Promise.withResolvers, which Node 20 lacks (it arrived in Node 22). service.js
// imports this module first so the method exists before any SDK code runs.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve, reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
